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

from bot.console.i18n import Words
from bot.console.security import Viewer, csrf_token, settings_of, take_flash
from bot.db import get_session_factory, utcnow
from bot.handoff import breaches
from bot.handoff.hours import TeamHours
from bot.insights import spikes

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=_environment)


# What the pages' scripts write themselves (static/*.js), translated once per
# page: the scripts look them up by their English text.
SCRIPT_TEXTS = (
    "live",
    "reconnecting…",
    "queue unreachable: {error}",
    "Nobody is waiting.",
    "{agent} has this conversation: only they can answer it.",
    "This conversation is closed.",
    "This conversation was abandoned.",
    "No problem found.",
    "The lint could not be reached; it runs again when you save.",
    "late by {time}",
    "{time} left",
    "Sound on",
    "Sound off",
    "Urgent: conversation {id} is waiting",
    "Conversation {id} was passed to your team: {team}",
    "First reply due by {due} ({time} left)",
    "Next reply due by {due} ({time} left)",
    "First reply late by {time} (due {due})",
    "Next reply late by {time} (due {due})",
    "Conversation {id} is past its response target",
    "Conversation {id}: the person wrote again",
    "Also viewing: {names}",
)
# Spike alerts stay on every page this long, or until a topic is made.
BANNER_FOR = timedelta(hours=1)
# Late conversations named in the admins' banner (the latest first).
LATE_SHOWN = 5


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


def late_banners(request: Request, viewer: Viewer | None) -> dict[str, Any] | None:
    """For admins: how many open conversations are past their response
    target, and the latest few."""
    if viewer is None or viewer.role != "admin":
        return None
    settings = request.app.state.settings
    try:
        with get_session_factory(settings.database_url).begin() as session:
            late = breaches.late_now(
                session,
                utcnow(),
                settings.profile.response_targets,
                TeamHours.from_settings(settings),
            )
    except SQLAlchemyError:
        return None
    if not late:
        return None
    return {
        "total": len(late),
        "shown": [
            {
                "id": one.ticket_id,
                "priority": one.priority,
                "minutes": int(one.late.total_seconds() // 60),
            }
            for one in late[:LATE_SHOWN]
        ],
    }


def words_for(request: Request, viewer: Viewer | None) -> Words:
    """The console's words for this person (signed out: the default language)."""
    if viewer is not None:
        return Words(viewer.language)
    return Words(request.app.state.settings.console_language)


def team_codes(request: Request, language: str) -> dict[str, str]:
    """The crisis profile's teams by name, for the queue's script."""
    teams = settings_of(request).profile.teams
    return {f"team.{key}": names[language] for key, names in teams.items()}


def render_page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    words = words_for(request, viewer)
    return templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": csrf_token(request),
            "flash": take_flash(request),
            "spikes": spike_banners(request, viewer),
            "late": late_banners(request, viewer),
            "lang": words.language,
            "_": words.gettext,
            "ngettext": words.ngettext,
            "code": words.code,
            # The words the pages' scripts show (server-sent updates).
            "script_words": {
                "codes": {**words.codes(), **team_codes(request, words.language)},
                "texts": {text: words.gettext(text) for text in SCRIPT_TEXTS},
            },
            **context,
        },
        status_code=status_code,
    )
