"""Rendering a console page: the templates, the viewer, the CSRF token, the flash."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.console.security import Viewer, csrf_token, take_flash
from bot.db import get_session_factory, utcnow
from bot.insights import spikes

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=_environment)


# Spike alerts stay on every page this long, or until a topic is made.
BANNER_FOR = timedelta(hours=1)


def spike_banners(request: Request, viewer: Viewer | None) -> list[dict[str, Any]]:
    """The recent spike alerts, for the banner above every console page."""
    if viewer is None:
        return []
    settings = request.app.state.settings
    try:
        with get_session_factory(settings.database_url).begin() as session:
            return [
                {"label": spike.label, "recent": spike.recent, "id": spike.id}
                for spike in spikes.active(session, utcnow(), BANNER_FOR)
            ]
    except SQLAlchemyError:
        return []  # the page itself says if the database is down


def render_page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": csrf_token(request),
            "flash": take_flash(request),
            "spikes": spike_banners(request, viewer),
            **context,
        },
        status_code=status_code,
    )
