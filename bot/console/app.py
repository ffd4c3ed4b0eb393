"""The console: a Starlette app for community managers, and the public web chat.

    relais console            # make run starts it beside Rasa

Pages are rendered on the server (Jinja2, autoescaped) with a little
JavaScript and no build step. Live updates are server-sent events: the queue
page and the conversation page each hold one stream. The console calls Rasa's
HTTP API server-side; the Rasa token never reaches a browser.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import accounts, assignment, presence, webchat
from bot.console import corrections as correction_pages
from bot.console import editor as editor_pages
from bot.console import gaps as gap_pages
from bot.console import overview as overview_pages
from bot.console import reports as report_pages
from bot.console import suggestions as suggestion_pages
from bot.console import team as team_pages
from bot.console import topics as topic_pages
from bot.console.i18n import Words
from bot.console.pages import render_page as _page
from bot.console.security import (
    SecurityHeaders,
    Viewer,
    check_csrf,
    client_address,
    csrf_token,
    current_viewer,
    flash,
    requires,
    settings_of,
)
from bot.console.streams import event_stream, stream
from bot.corrections import sending as correction_sends
from bot.corrections.drafts import CorrectionError
from bot.db import get_session_factory
from bot.events import watcher
from bot.faq.live import current_pack
from bot.handoff import agent as agent_ops
from bot.handoff import breaches, queue, sla, switches
from bot.handoff.hours import TeamHours
from bot.handoff.models import ASSIGNED, PRIORITIES, WAITING, Ticket, utcnow
from bot.handoff.window import CHANNEL_NAMES
from bot.insights import facts, spikes
from bot.rasa_api import RasaClient, RasaError
from bot.settings import PROJECT_ROOT, Settings, get_settings

HERE = Path(__file__).parent
SOCKET_IO_CLIENT = PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist"
LAST_MESSAGE_PREVIEW = 90
QUEUE = accounts.QUEUE_ROLES
# The transfer form's value for a team rather than a colleague.
TEAM_CHOICE = "team:"


# --- data for the pages ------------------------------------------------------


def _due_json(ticket: Ticket, settings: Settings) -> dict[str, str] | None:
    """The conversation page's response clock: which reply is due, and when
    (the page counts down itself, so the state it polls stays the same)."""
    running = sla.clock(
        ticket, utcnow(), settings.profile.response_targets,
        TeamHours.from_settings(settings),
    )  # fmt: skip
    if running is None:
        return None
    local = running.due_at.astimezone(settings.timezone)
    today = utcnow().astimezone(settings.timezone).date()
    shown = f"{local:%H:%M}" if local.date() == today else f"{local:%d/%m %H:%M}"
    return {"kind": running.kind, "due_at": running.due_at.isoformat(), "due": shown}


def _clock_json(ticket: Ticket, running: sla.Clock | None) -> dict | None:
    """The ticket's response clock (bot/handoff/sla.py), for the pages."""
    if running is None:
        return None
    return {
        "kind": running.kind,
        "since": sla.started_at(ticket, running).isoformat(),
        "left_seconds": int(running.left.total_seconds()),
        "breached": running.breached,
    }


def _ticket_json(
    ticket: Ticket, now: datetime, mood: str = "neutral"
) -> dict[str, Any]:
    preview = " ".join(ticket.last_message.split())
    if len(preview) > LAST_MESSAGE_PREVIEW:
        preview = preview[: LAST_MESSAGE_PREVIEW - 1] + "…"
    return {
        "id": ticket.id,
        "priority": ticket.priority,
        "status": ticket.status,
        "reason": ticket.reason,
        "language": ticket.language,
        "channel": ticket.channel,
        "agent": ticket.agent,
        "team": ticket.team,
        "waiting_seconds": int((now - ticket.created_at).total_seconds()),
        "last_message": preview,
        "mood": mood,
    }


def _breached_first(
    tickets: list[Ticket], clocks: dict[int, sla.Clock | None]
) -> list[Ticket]:
    """The serving order, a ticket past its response target moved up within
    its status and priority."""

    def late(ticket: Ticket) -> bool:
        running = clocks[ticket.id]
        return running is not None and running.breached

    order = {id(ticket): n for n, ticket in enumerate(tickets)}
    return sorted(
        tickets,
        key=lambda t: (t.status != WAITING, PRIORITIES.index(t.priority),
                       not late(t), order[id(t)]),
    )  # fmt: skip


def queue_snapshot(settings: Settings) -> dict[str, Any]:
    """Open tickets in serving order, and the counters above the queue."""
    now = utcnow()
    midnight = now.astimezone(settings.timezone).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    with get_session_factory(settings.database_url).begin() as session:
        tickets = queue.list_open(session=session)
        median = queue.median_wait(session=session, since=midnight)
        crisis = switches.read_switches(session=session)
        moods = facts.conversation_moods(
            session, [ticket.conversation_id for ticket in tickets]
        )
        targets = settings.profile.response_targets
        hours = TeamHours.from_settings(settings)
        clocks = {t.id: sla.clock(t, now, targets, hours) for t in tickets}
        return {
            "all_to_humans": crisis.all_to_humans,
            "queue_closed": crisis.queue_closed,
            "tickets": [
                {
                    **_ticket_json(
                        ticket, now, moods.get(ticket.conversation_id, "neutral")
                    ),
                    "sla": _clock_json(ticket, clocks[ticket.id]),
                }
                for ticket in _breached_first(tickets, clocks)
            ],
            "waiting": sum(ticket.status == WAITING for ticket in tickets),
            "assigned": sum(ticket.status == ASSIGNED for ticket in tickets),
            "median_wait_seconds": int(median.total_seconds()) if median else None,
        }


def _turn_words(turn: agent_ops.Turn, words: Words) -> tuple[str, str]:
    """Who wrote the turn and its text, in the viewer's language (what the
    person, the bot and agents wrote stays as written)."""
    kind, _, name = turn.who.partition(" ")
    who = " ".join(part for part in (words.code("who", kind), name) if part)
    if kind != "event":
        return who, turn.text
    if turn.template and turn.values:
        values = {
            key: words.code(key, value) if key in ("reason", "priority") else value
            for key, value in turn.values.items()
        }
        return who, words.gettext(turn.template, **values)
    return who, words.gettext(turn.text)


def _turns_json(
    turns: list[agent_ops.Turn], settings: Settings, words: Words
) -> list[dict]:
    shown = []
    for turn in turns:
        who, text = _turn_words(turn, words)
        shown.append(
            {
                "who": turn.who,
                "who_words": who,
                "text": text,
                "at": turn.at.astimezone(settings.timezone).strftime("%H:%M:%S")
                if turn.at
                else "",
            }
        )
    return shown


def conversation(
    settings: Settings, ticket: Ticket, words: Words
) -> tuple[list[dict], str | None, dict[str, Any]]:
    """The transcript from Rasa (or the ticket's saved turns if Rasa is
    down), and what the ticket's channel still lets an agent send."""
    turns, rasa_error = agent_ops.transcript_or_saved(_rasa(settings), ticket)
    window = agent_ops.window_of(ticket, turns, settings.channels)
    return (
        _turns_json(turns, settings, words),
        rasa_error,
        {
            "channel": CHANNEL_NAMES.get(ticket.channel, ticket.channel),
            "state": window.state,
            "text": window.explain(settings.timezone, words.gettext),
            "can_reply": window.can_reply,
            "template": window.template,
        },
    )


def canned_replies(settings: Settings, language: str) -> list[dict[str, str]]:
    """The FAQ answers in the person's language: humans and bot say the same."""
    return [
        {"topic": key, "title": topic.title(language), "text": answer}
        for key, topic in sorted(
            current_pack(settings).items(),
            key=lambda item: item[1].title(language),
        )
        if (answer := topic.answers.get(language) or topic.answers.get("fr"))
    ]


def _rasa(settings: Settings) -> RasaClient:
    return RasaClient(settings.rasa_url, settings.rasa_token)


def refusal(error: queue.QueueError, words: Words) -> str:
    """What the queue refused, in the agent's language (statuses as words)."""
    values = {
        key: words.code("status", value) if key == "status" else value
        for key, value in error.values.items()
    }
    return words.gettext(error.template, **values)


def _ticket_id(request: Request) -> int:
    try:
        return int(request.path_params["ticket_id"])
    except (KeyError, ValueError):
        raise HTTPException(404, "No such ticket.") from None


def _load_ticket(
    settings: Settings, ticket_id: int, with_colleagues: bool = True
) -> tuple[Ticket, list[dict[str, str]], list[str]]:
    with get_session_factory(settings.database_url).begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=ticket_id)
        notes = [
            {
                "author": note.author,
                "text": note.text,
                "at": note.created_at.astimezone(settings.timezone).strftime(
                    "%d/%m %H:%M"
                ),
            }
            for note in ticket.notes
        ]
        colleagues = (
            [
                agent.name
                for agent in accounts.list_agents(session=session)
                if agent.role in QUEUE
            ]
            if with_colleagues
            else []
        )
        return ticket, notes, colleagues


# --- pages ---------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        return _page(
            request, "login.html", None, next=request.query_params.get("next", "/")
        )
    form = await check_csrf(request)
    form = form or await request.form()
    name = str(form.get("name") or "")
    password = str(form.get("password") or "")
    target = str(form.get("next") or "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # never redirect to another site
    settings = settings_of(request)
    client = client_address(request, settings.trusted_proxies)

    def attempt() -> accounts.SignIn:
        with get_session_factory(settings.database_url).begin() as session:
            result = accounts.sign_in(
                session=session, name=name, password=password, client=client
            )
            if result.agent is not None:
                request.session.clear()
                request.session["agent"] = result.agent.name
                request.session["version"] = result.agent.session_version
                request.session["home"] = (
                    "/editor" if result.agent.role == "editor" else "/"
                )
            return result

    result = await run_in_threadpool(attempt)
    if result.agent is None:
        words = Words(settings.console_language)
        if result.wait is not None:
            seconds = max(1, int(result.wait.total_seconds() + 0.999))
            message = words.gettext(
                "Too many failed attempts: wait {seconds} s and try again.",
                seconds=seconds,
            )
        elif result.disabled:
            message = words.gettext("This account is disabled: ask an admin.")
        else:
            message = words.gettext("Wrong name or password.")
        return _page(request, "login.html", None, next=target, error=message,
                     name=name, status_code=429 if result.wait else 401)  # fmt: skip
    csrf_token(request)  # a fresh token for the new session
    if target == "/":
        target = str(request.session.get("home") or "/")  # editors land on theirs
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    """Signs out on every device: the session ends on the server too, so a
    copy of the cookie taken before is worth nothing."""
    await check_csrf(request)
    name = request.session.get("agent")
    if name:
        settings = settings_of(request)

        def end_sessions() -> None:
            with get_session_factory(settings.database_url).begin() as session:
                accounts.sign_out_everywhere(session=session, name=str(name))

        await run_in_threadpool(end_sessions)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@requires(frozenset(accounts.ROLES))
async def choose_language(request: Request, viewer: Viewer, form: FormData) -> Response:
    """The header's switch: this account's console speaks French or English,
    on every device it signs in on."""
    settings = settings_of(request)
    language = str(form.get("language") or "")

    def save() -> None:
        with get_session_factory(settings.database_url).begin() as session:
            accounts.set_language(session=session, name=viewer.name, language=language)

    try:
        await run_in_threadpool(save)
    except accounts.AccountError as error:
        flash(request, str(error), "error")
    # Back to the page the switch was on (this site's pages only).
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = not referer.netloc or referer.netloc == request.url.netloc
    target = referer.path if same_site and referer.path.startswith("/") else "/"
    if target.startswith("//"):
        target = "/"
    query = f"?{referer.query}" if same_site and referer.query else ""
    return RedirectResponse(target + query, status_code=303)


@requires(QUEUE)
async def queue_page(request: Request, viewer: Viewer) -> Response:
    settings = settings_of(request)
    snapshot = await run_in_threadpool(queue_snapshot, settings)

    def account() -> tuple[bool, tuple[str, ...]]:
        """Whether the viewer takes conversations, and their teams."""
        with get_session_factory(settings.database_url).begin() as session:
            agent = accounts.find_agent(session=session, name=viewer.name)
            available = bool(agent is not None and agent.available)
            return available, accounts.teams_of(agent)

    available, teams = await run_in_threadpool(account)
    return _page(
        request, "queue.html", viewer, snapshot=snapshot,
        auto_assign=settings.profile.auto_assign, available=available, teams=teams,
    )  # fmt: skip


@requires(QUEUE)
async def choose_availability(
    request: Request, viewer: Viewer, form: FormData
) -> Response:
    """Auto-assignment: the agent is available for new conversations, or
    away (their open ones go back to the queue)."""
    settings = settings_of(request)
    words = Words(viewer.language)
    wanted = str(form.get("available") or "") == "yes"

    def save() -> int:
        with get_session_factory(settings.database_url).begin() as session:
            return assignment.set_available(session, viewer.name, wanted)

    try:
        returned = await run_in_threadpool(save)
        flash(
            request,
            words.gettext("You are available: conversations come to you.")
            if wanted
            else words.ngettext(
                "You are away: {n} conversation went back to the queue.",
                "You are away: {n} conversations went back to the queue.",
                returned,
            ),
        )
    except accounts.AccountError as error:
        flash(request, str(error), "error")
    return RedirectResponse("/", status_code=303)


@requires(QUEUE)
async def queue_events(request: Request, viewer: Viewer) -> Response:
    return event_stream(stream(request, queue_snapshot, settings_of(request)))


@requires(QUEUE)
async def ticket_page(request: Request, viewer: Viewer) -> Response:
    settings = settings_of(request)
    ticket_id = _ticket_id(request)
    try:
        ticket, notes, colleagues = await run_in_threadpool(
            _load_ticket, settings, ticket_id
        )
    except queue.TicketNotFound:
        raise HTTPException(404, f"There is no ticket {ticket_id}.") from None
    words = Words(viewer.language)
    turns, rasa_error, window = await run_in_threadpool(
        conversation, settings, ticket, words
    )
    corrections = await run_in_threadpool(pending_corrections, settings, ticket)
    return _page(
        request,
        "ticket.html",
        viewer,
        ticket=_ticket_json(ticket, utcnow()),
        due=_due_json(ticket, settings),
        conversation_id=ticket.conversation_id,
        turns=turns,
        rasa_error=rasa_error,
        window=window,
        notes=notes,
        colleagues=[name for name in colleagues if name != viewer.name],
        teams=[
            (key, names[words.language])
            for key, names in settings.profile.teams.items()
        ],
        canned=canned_replies(settings, ticket.language),
        corrections=corrections,
    )


def ticket_state(
    settings: Settings, ticket_id: int, words: Words, viewer: Viewer | None = None
) -> dict[str, Any]:
    # Polled twice a second per open page: no account list here.
    ticket, notes, _ = _load_ticket(settings, ticket_id, with_colleagues=False)
    turns, rasa_error, window = conversation(settings, ticket, words)
    factory = get_session_factory(settings.database_url)
    viewers: list[str] = []
    if viewer is not None:
        presence.seen(
            settings.database_url, ticket_id, viewer.name, viewer.display_name
        )
        with factory.begin() as session:
            viewers = presence.others(session, ticket_id, viewer.name)
    return {
        "ticket": _ticket_json(ticket, ticket.created_at),  # no ticking clock
        "due": _due_json(ticket, settings),
        "turns": turns,
        "window": window,
        "notes": notes,
        "rasa_error": rasa_error,
        "viewers": viewers,
    }


@requires(QUEUE)
async def ticket_events(request: Request, viewer: Viewer) -> Response:
    ticket_id = _ticket_id(request)
    return event_stream(
        stream(
            request, ticket_state, settings_of(request), ticket_id,
            Words(viewer.language), viewer,
        )
    )  # fmt: skip


# --- ticket actions ------------------------------------------------------------


def _do(
    settings: Settings,
    action: str,
    ticket_id: int,
    viewer: Viewer,
    form: FormData,
    words: Words,
) -> str:
    """Runs one action; returns what to tell the agent, in their language."""
    factory = get_session_factory(settings.database_url)
    agent, signature = viewer.name, viewer.display_name
    if action == "claim":
        with factory.begin() as session:
            queue.claim(session=session, ticket_id=ticket_id, agent=agent)
        return words.gettext(
            "You have this conversation: the person is waiting for you."
        )
    if action == "release":
        with factory.begin() as session:
            queue.release(session=session, ticket_id=ticket_id, agent=agent)
        return words.gettext("Back in the queue, in its place.")
    if action == "close":
        agent_ops.close(factory=factory, rasa=_rasa(settings), ticket_id=ticket_id,
                        agent=agent, channels=settings.channels,
                        survey=settings.profile.satisfaction)  # fmt: skip
        return words.gettext("Closed: the bot answers this person again.")
    if action == "reply":
        agent_ops.reply(factory=factory, rasa=_rasa(settings), ticket_id=ticket_id,
                        agent=agent, text=str(form.get("text") or ""),
                        signature=signature, pack=current_pack(settings),
                        channels=settings.channels,
                        zone=settings.timezone)  # fmt: skip
        return words.gettext("Sent.")
    if action == "correction":
        pass_on_correction(settings, ticket_id, viewer, form)
        return words.gettext("Correction sent.")
    if action == "invite":
        agent_ops.invite(factory=factory, rasa=_rasa(settings), ticket_id=ticket_id,
                         agent=agent, channels=settings.channels,
                         zone=settings.timezone)  # fmt: skip
        return words.gettext(
            "Invitation sent: when the person answers, you can write to them."
        )
    if action == "note":
        with factory.begin() as session:
            queue.add_note(session=session, ticket_id=ticket_id, author=agent,
                           text=str(form.get("text") or ""))  # fmt: skip
        return words.gettext("Note added.")
    if action == "take-over":
        if viewer.role != accounts.ADMIN:
            raise HTTPException(403, "Only an admin can take a conversation over.")
        with factory.begin() as session:
            queue.take_over(session=session, ticket_id=ticket_id, admin=agent)
        return words.gettext(
            "You have this conversation now: the person is waiting for you."
        )
    if action == "transfer":
        to, note = str(form.get("to") or ""), str(form.get("note") or "")
        team = to.removeprefix(TEAM_CHOICE) if to.startswith(TEAM_CHOICE) else None
        if team is not None:
            names = settings.profile.teams.get(team)
            if names is None:
                raise queue.QueueError("There is no team {team}.", team=team)
            with factory.begin() as session:
                queue.pass_to_team(session=session, ticket_id=ticket_id, agent=agent,
                                   team=team, team_name=names["en"],
                                   note=note)  # fmt: skip
            return words.gettext(
                "Passed to the {team} team: back in the queue, for its members first.",
                team=names[words.language],
            )
        with factory.begin() as session:
            colleague = accounts.find_agent(session=session, name=to)
            if colleague is None or colleague.role not in QUEUE:
                raise queue.QueueError(
                    "{name} cannot take conversations.", name=to or "Nobody"
                )
            if colleague.is_disabled:
                # Nobody could answer it, claim it or give it back.
                raise queue.QueueError(
                    "{name}'s account is closed: choose someone else.", name=to
                )
            queue.transfer(session=session, ticket_id=ticket_id, agent=agent, to=to,
                           note=note)  # fmt: skip
        return words.gettext("Transferred to {to}.", to=to)
    raise HTTPException(404, "No such action.")


def pending_corrections(settings: Settings, ticket: Ticket) -> list[dict[str, Any]]:
    """The corrections left to the agent of this conversation (issue 30):
    the person was not interrupted while talking to a human."""
    language = ticket.language if ticket.language in ("fr", "en") else "fr"
    with get_session_factory(settings.database_url).begin() as session:
        return [
            {"id": c.id, "topic": c.topic, "text": c.text(language)}
            for c in correction_sends.for_agent(
                session=session, conversation_id=ticket.conversation_id
            )
        ]


def pass_on_correction(
    settings: Settings, ticket_id: int, viewer: Viewer, form: FormData
) -> None:
    """The agent sends a correction waiting for this conversation, as their
    reply (the channel's window applies), marked with its id."""
    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=ticket_id)
    waiting = {c["id"]: c for c in pending_corrections(settings, ticket)}
    try:
        correction = waiting[int(str(form.get("correction") or ""))]
    except (KeyError, ValueError):
        raise queue.QueueError(
            "This correction is not waiting for this conversation."
        ) from None
    agent_ops.reply(factory=factory, rasa=_rasa(settings), ticket_id=ticket_id,
                    agent=viewer.name, text=correction["text"],
                    signature=viewer.display_name, channels=settings.channels,
                    zone=settings.timezone,
                    marks={correction_sends.MARK: correction["id"]})  # fmt: skip
    try:
        with factory.begin() as session:
            correction_sends.passed_on(
                session=session, correction_id=correction["id"],
                conversation_id=ticket.conversation_id, agent=viewer.name,
            )  # fmt: skip
    except CorrectionError:  # a send job got there first: it is in the chat
        pass


@requires(QUEUE)
async def ticket_action(request: Request, viewer: Viewer, form: FormData) -> Response:
    ticket_id = _ticket_id(request)
    action = str(request.path_params["action"])
    settings = settings_of(request)
    status = 200
    words = Words(viewer.language)
    try:
        message = await run_in_threadpool(
            _do, settings, action, ticket_id, viewer, form, words
        )
        kind = "info"
    except queue.TicketNotFound as error:
        raise HTTPException(404, refusal(error, words)) from None
    except queue.QueueError as error:
        message, kind, status = refusal(error, words), "error", 409
    except RasaError as error:
        message = words.gettext("Nothing changed: {error}", error=error)
        kind, status = "error", 502
    if request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse(
            {"message": message, "ok": kind == "info"}, status_code=status
        )
    flash(request, message, kind)
    target = (
        "/"
        if action in ("close", "release", "transfer") and kind == "info"
        else (f"/tickets/{ticket_id}")
    )
    return RedirectResponse(target, status_code=303)


@requires(QUEUE)
async def take_next(request: Request, viewer: Viewer, form: FormData) -> Response:
    settings = settings_of(request)

    def claim() -> int | None:
        with get_session_factory(settings.database_url).begin() as session:
            account = accounts.find_agent(session=session, name=viewer.name)
            ticket = queue.claim_next(
                session=session, agent=viewer.name, teams=accounts.teams_of(account),
                known_teams=tuple(settings.profile.teams),
            )  # fmt: skip
            return None if ticket is None else int(ticket.id)

    ticket_id = await run_in_threadpool(claim)
    if ticket_id is None:
        flash(request, Words(viewer.language).gettext("Nobody is waiting."))
        return RedirectResponse("/", status_code=303)
    flash(
        request,
        Words(viewer.language).gettext(
            "You have this conversation: the person is waiting for you."
        ),
    )
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


# --- public -----------------------------------------------------------------------


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "Something went wrong.")
    if "text/html" in request.headers.get("accept", ""):
        viewer = await current_viewer(request)
        return _page(
            request, "error.html", viewer, status_code=status, status=status,
            detail=detail,
        )  # fmt: skip
    return JSONResponse({"error": detail}, status_code=status)


@contextlib.asynccontextmanager
async def _watching(app: Starlette) -> AsyncIterator[None]:
    """Runs the event watcher (bot/events/watcher.py), the response-target
    checks (bot/handoff/breaches.py) and the spike checks
    (bot/insights/spikes.py) beside the console."""
    settings: Settings = app.state.settings
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=watcher.run_forever,
            args=(
                watcher.event_source(
                    settings.database_url, settings.events_url, settings.events_queue
                ),
                _rasa(settings),
                stop,
                settings.profile,
            ),
            name="event-watcher",
            daemon=True,
        ),
        threading.Thread(
            target=breaches.run_forever,
            args=(
                settings.database_url,
                settings.profile.response_targets,
                TeamHours.from_settings(settings),
                settings.alert_webhook_url,
                settings.console_url,
                stop,
            ),
            name="response-target-checks",
            daemon=True,
        ),
        threading.Thread(
            target=spikes.run_forever,
            args=(
                settings.database_url,
                lambda: current_pack(settings),
                settings.alert_webhook_url,
                settings.console_url,
                stop,
            ),
            name="spike-checks",
            daemon=True,
        ),
    ]
    if settings.profile.auto_assign:
        threads.append(
            threading.Thread(
                target=assignment.run_forever,
                args=(
                    settings.database_url,
                    settings.profile.max_open_per_agent,
                    stop,
                    tuple(settings.profile.teams),
                ),
                name="auto-assignment",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def create_app(settings: Settings | None = None, watch: bool = False) -> Starlette:
    """The console and the web chat, configured from `settings`.

    With `watch`, the app also runs the event watcher that keeps waiting
    tickets current (what `relais console` does).
    """
    settings = settings or get_settings()
    routes = [
        Route("/", queue_page),
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account/language", choose_language, methods=["POST"]),
        Route("/account/availability", choose_availability, methods=["POST"]),
        Route("/queue/events", queue_events),
        Route("/queue/next", take_next, methods=["POST"]),
        Route("/tickets/{ticket_id:int}", ticket_page),
        Route("/tickets/{ticket_id:int}/events", ticket_events),
        Route("/tickets/{ticket_id:int}/{action:str}", ticket_action, methods=["POST"]),
        *editor_pages.routes,
        *correction_pages.routes,
        *topic_pages.routes,
        Route("/suggestions", suggestion_pages.suggestions_page),
        Route(
            "/suggestions/{action:str}",
            suggestion_pages.suggestions_action,
            methods=["POST"],
        ),
        *overview_pages.routes,
        *gap_pages.routes,
        *report_pages.routes,
        *team_pages.routes,
        *webchat.routes,
        Route("/health", health),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    if SOCKET_IO_CLIENT.is_dir():
        routes.append(
            Mount("/vendor/socket.io", StaticFiles(directory=SOCKET_IO_CLIENT))
        )
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, connect_sources=_socket_sources(settings)),
            Middleware(
                SessionMiddleware,
                secret_key=settings.console_secret,
                session_cookie="relais_session",
                same_site="strict",
                https_only=not settings.is_local,
                max_age=12 * 3600,
            ),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=_watching if watch else None,
    )
    app.state.settings = settings
    return app


def _socket_sources(settings: Settings) -> str:
    """What the web chat may connect to: Rasa's socket.io, over http(s) and ws(s)."""
    url = settings.public_rasa_url
    return f"{url} {url.replace('http', 'ws', 1)}"


def run(settings: Settings | None = None) -> None:
    import uvicorn

    settings = settings or get_settings()
    uvicorn.run(
        create_app(settings, watch=True),
        host=settings.console_host,
        port=settings.console_port,
        log_level="info",
        proxy_headers=False,
        # No websockets here (server-sent events); Rasa pins an older
        # websockets than uvicorn's auto-detection can use.
        ws="none",
    )
