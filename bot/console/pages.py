"""Rendering a console page: the templates, the viewer, the CSRF token, the flash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.console.security import Viewer, csrf_token, take_flash

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=_environment)


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
            **context,
        },
        status_code=status_code,
    )
