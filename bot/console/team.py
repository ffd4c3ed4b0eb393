"""The team page (admins): every console account, and closing one.

GET  /team                    accounts, their role, state and the
                              conversations each holds
POST /team/{name}/disable     sessions end at once, its conversations go
                              back to the queue (bot/console/accounts.py)
POST /team/{name}/enable
POST /team/{name}/skills      the teams it is in and the languages it
                              answers in (auto-assignment, "Take next")
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console import accounts
from bot.console.i18n import Words
from bot.console.pages import render_page
from bot.console.security import Viewer, flash, requires, settings_of
from bot.db import get_session_factory
from bot.handoff.models import ASSIGNED, Ticket
from bot.settings import Settings

ADMINS = frozenset({"admin"})


def team_state(settings: Settings, words: Words) -> list[dict[str, Any]]:
    with get_session_factory(settings.database_url).begin() as session:
        held = Counter(
            session.execute(
                select(Ticket.agent).where(Ticket.status == ASSIGNED)
            ).scalars()
        )
        return [
            {
                "name": agent.name,
                "display_name": agent.display_name,
                "role": agent.role,
                "disabled": agent.is_disabled,
                "disabled_note": (
                    words.gettext(
                        "by {name}, {at}",
                        name=agent.disabled_by,
                        at=agent.disabled_at.astimezone(settings.timezone).strftime(
                            "%d/%m %H:%M"
                        ),
                    )
                    if agent.is_disabled
                    else ""
                ),
                "holds": held.get(agent.name, 0),
                "teams": accounts.teams_of(agent),
                "answers_in": agent.answers_in.split(","),
            }
            for agent in accounts.list_agents(session=session)
        ]


@requires(ADMINS)
async def team_page(request: Request, viewer: Viewer) -> Response:
    rows = await run_in_threadpool(
        team_state, settings_of(request), Words(viewer.language)
    )
    words = Words(viewer.language)
    teams = settings_of(request).profile.teams
    return render_page(
        request, "team.html", viewer, accounts=rows,
        teams=[(key, names[words.language]) for key, names in teams.items()],
    )  # fmt: skip


def _change(
    settings: Settings, viewer: Viewer, name: str, action: str, form: FormData
) -> str:
    words = Words(viewer.language)
    with get_session_factory(settings.database_url).begin() as session:
        if action == "skills":
            agent = accounts.set_skills(
                session=session, name=name,
                teams=[str(team) for team in form.getlist("team")],
                answers_in=[str(language) for language in form.getlist("answers_in")],
                known_teams=list(settings.profile.teams),
            )  # fmt: skip
            return words.gettext("{name}'s teams and languages are saved.",
                                 name=agent.name)  # fmt: skip
        if action == "disable":
            agent, returned = accounts.disable(
                session=session, name=name, by=viewer.name
            )
            return words.ngettext(
                "{name} is disabled: signed out everywhere, {n} conversation back in the queue.",  # noqa: E501
                "{name} is disabled: signed out everywhere, {n} conversations back in the queue.",  # noqa: E501
                returned,
                name=agent.name,
            )
        agent = accounts.enable(session=session, name=name)
        return words.gettext("{name} can sign in again.", name=agent.name)


@requires(ADMINS)
async def team_action(request: Request, viewer: Viewer, form: FormData) -> Response:
    action = str(request.path_params["action"])
    if action not in ("disable", "enable", "skills"):
        raise HTTPException(404, "No such action.")
    name = str(request.path_params["name"])
    try:
        message = await run_in_threadpool(
            _change, settings_of(request), viewer, name, action, form
        )
        flash(request, message)
    except accounts.AccountError as error:
        flash(request, str(error), "error")
    return RedirectResponse("/team", status_code=303)


routes = [
    Route("/team", team_page),
    Route("/team/{name:str}/{action:str}", team_action, methods=["POST"]),
]
