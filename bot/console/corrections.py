"""The corrections pages (editors and admins): who got an earlier answer,
the correction drafted and approved with four eyes, its sending followed live.

GET  /corrections                     answers people got in an earlier
                                      version, and the corrections so far
GET  /corrections/topics/{key}        who got what, by channel, language and
                                      reach; the draft form
POST /corrections/topics/{key}        drafts a correction
GET  /corrections/updates/new?topic=K  an update for the people who asked
POST /corrections/updates              to be kept informed; drafts it
GET  /corrections/{id}                the correction, its review, its sending
GET  /corrections/{id}/events         the sending's counts, live
POST /corrections/{id}/{action}       approve, urgent (an admin's own),
                                      reject, send, cancel
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.accounts import ADMIN, EDITOR_ROLES
from bot.console.i18n import Words
from bot.console.pages import render_page
from bot.console.security import Viewer, flash, requires, settings_of
from bot.console.streams import event_stream, stream
from bot.corrections import drafts, jobs, recipients, sending, subscriptions
from bot.corrections.drafts import CorrectionError
from bot.corrections.recipients import correctable
from bot.db import get_session_factory, utcnow
from bot.faq.live import current_pack
from bot.faq.statement import STATEMENT_TOPIC
from bot.settings import Settings

# Outcomes in the order the progress shows them, with their labels.
OUTCOMES = {
    sending.SENT: "sent",
    sending.SENDING: "being sent",
    sending.WITH_AGENT: "left to the agent who holds the conversation",
    recipients.OUT_OF_WINDOW: "out of the channel's window",
    sending.INVITED: "invited to write (WhatsApp template): told once they do",
    recipients.TEMPLATE: "WhatsApp template only",
    recipients.UNKNOWN: "channel not known",
    recipients.NEVER: "unreachable (REST API)",
    sending.FAILED: "failed (tried again on the next send)",
    sending.OPTED_OUT: "said stop",
}
REACH_LABELS = {
    recipients.NOW: "now",
    recipients.ON_RETURN: "now or when they come back",
    recipients.TEMPLATE: "WhatsApp template only",
    recipients.OUT_OF_WINDOW: "too late for the channel",
    recipients.NEVER: "never (REST API)",
    recipients.UNKNOWN: "channel not known",
}
STATES = {
    drafts.DRAFT: "draft, waiting for another editor",
    drafts.APPROVED: "approved",
    drafts.REJECTED: "rejected",
}
JOB_STATES = {
    "": "not sent yet",
    jobs.RUNNING: "sending…",
    jobs.FINISHED: "sending finished",
    jobs.CANCELLED: "sending stopped",
    jobs.FAILED: "sending failed",
}
ACTIONS = ("approve", "urgent", "reject", "send", "cancel")


def _when(settings: Settings, moment: Any) -> str:
    if moment is None:
        return ""
    return f"{moment.astimezone(settings.timezone):%d/%m %H:%M}"


def index_state(settings: Settings) -> dict[str, Any]:
    """The topics some people got in an earlier version, and the corrections."""
    pack = correctable(settings)
    now = utcnow()
    with get_session_factory(settings.database_url).begin() as session:
        changed = []
        for key, topic in sorted(pack.items()):
            people = recipients.outdated(
                session=session, topic=topic, now=now, channels=settings.channels
            )
            if people:
                summary = recipients.summarise(topic, people)
                changed.append(
                    {
                        "key": key,
                        "title": topic.title("fr"),
                        "people": summary.total,
                        "deliverable": summary.deliverable(),
                    }
                )
        sent = dict(
            session.execute(
                select(sending.CorrectionSend.correction_id, func.count())
                .where(sending.CorrectionSend.outcome == sending.SENT)
                .group_by(sending.CorrectionSend.correction_id)
            ).all()
        )
        corrections = []
        for row in drafts.listed(session=session):
            jobs.reap(row)
            corrections.append(
                {
                    "id": row.id,
                    "topic": row.topic,
                    "update": row.is_update,
                    "state": row.state,
                    "changed": row.changed,
                    "author": row.author,
                    "at": _when(settings, row.created_at),
                    "reviewed_by": row.reviewed_by or "",
                    "job": row.job_state or "",
                    "sent": sent.get(row.id, 0),
                }
            )
        subscribed = subscriptions.counts(session=session)
        said_stop = len(subscriptions.opted_out(session=session))
    return {
        "changed": changed,
        "subscribed": [
            {
                "key": key,
                "title": pack[key].title("fr") if key in pack else key,
                "people": n,
            }
            for key, n in sorted(subscribed.items())
        ],
        "said_stop": said_stop,
        "topics": [
            (key, topic.title("fr"))
            for key, topic in sorted(pack.items())
            if key != STATEMENT_TOPIC  # news is about the crisis or a topic
        ],
        "corrections": corrections,
        "states": STATES,
        "job_states": JOB_STATES,
    }


@requires(EDITOR_ROLES)
async def index_page(request: Request, viewer: Viewer) -> Response:
    state = await run_in_threadpool(index_state, settings_of(request))
    return render_page(request, "corrections.html", viewer, **state)


def topic_state(settings: Settings, key: str) -> dict[str, Any]:
    topic = correctable(settings).get(key)
    if topic is None:
        raise HTTPException(404, "No such topic.")
    with get_session_factory(settings.database_url).begin() as session:
        people = recipients.outdated(
            session=session, topic=topic, now=utcnow(), channels=settings.channels
        )
    summary = recipients.summarise(topic, people)
    rows = sorted({(channel, lang) for channel, lang, _ in summary.counts})
    return {
        "topic": {
            "key": topic.key,
            "title": topic.title("fr"),
            "answers": {lang: topic.answers.get(lang, "") for lang in ("fr", "en")},
        },
        "total": summary.total,
        "deliverable": summary.deliverable(),
        "reaches": [(reach, REACH_LABELS[reach]) for reach in recipients.REACHES],
        "rows": [
            {
                "channel": channel,
                "language": lang,
                "counts": [
                    summary.counts.get((channel, lang, reach), 0)
                    for reach in recipients.REACHES
                ],
            }
            for channel, lang in rows
        ],
        "versions": sorted(Counter((p.language, p.version) for p in people).items()),
        "intro": drafts.INTRO,
    }


@requires(EDITOR_ROLES)
async def topic_page(request: Request, viewer: Viewer) -> Response:
    key = str(request.path_params["key"])
    state = await run_in_threadpool(topic_state, settings_of(request), key)
    return render_page(request, "correction_topic.html", viewer, **state)


def _texts(form: FormData) -> dict[str, str]:
    """The messages the editor wrote, by language (an empty box: prefilled)."""
    texts = {lang: str(form.get(f"text_{lang}") or "").strip() for lang in ("fr", "en")}
    return {lang: text for lang, text in texts.items() if text}


def _draft(settings: Settings, viewer: Viewer, key: str, form: FormData) -> int:
    topic = correctable(settings).get(key)
    if topic is None:
        raise CorrectionError(f"No topic {key!r} in the FAQ.")
    texts = _texts(form)
    with get_session_factory(settings.database_url).begin() as session:
        correction = drafts.draft(
            session=session, topic=topic, changed=str(form.get("changed") or ""),
            author=viewer.name, texts=texts,
        )  # fmt: skip
        return int(correction.id)


@requires(EDITOR_ROLES)
async def topic_draft(request: Request, viewer: Viewer, form: FormData) -> Response:
    key = str(request.path_params["key"])
    try:
        correction_id = await run_in_threadpool(
            _draft, settings_of(request), viewer, key, form
        )
    except CorrectionError as error:
        flash(request, str(error), "error")
        return RedirectResponse(f"/corrections/topics/{key}", status_code=303)
    flash(
        request,
        Words(viewer.language).gettext(
            "Correction drafted: another editor approves it before it is sent."
        ),
    )
    return RedirectResponse(f"/corrections/{correction_id}", status_code=303)


def update_state(settings: Settings, key: str) -> dict[str, Any]:
    pack = current_pack(settings)
    topic = pack.get(key) if key else None
    if key and topic is None:
        raise HTTPException(404, "No such topic.")
    with get_session_factory(settings.database_url).begin() as session:
        people = subscriptions.subscribers(
            session=session, topic=key, now=utcnow(), channels=settings.channels
        )
    return {
        "topic": {"key": key, "title": topic.title("fr") if topic else ""},
        "people": len(people),
        "deliverable": sum(p.reach in recipients.DELIVERABLE for p in people),
        "intro": drafts.NEWS,
        "answers": {
            lang: topic.answers.get(lang, "") if topic else "" for lang in ("fr", "en")
        },
    }


@requires(EDITOR_ROLES)
async def update_page(request: Request, viewer: Viewer) -> Response:
    key = str(request.query_params.get("topic") or "")
    state = await run_in_threadpool(update_state, settings_of(request), key)
    return render_page(request, "update_new.html", viewer, **state)


def _draft_update(settings: Settings, viewer: Viewer, form: FormData) -> int:
    key = str(form.get("topic") or "")
    topic = current_pack(settings).get(key) if key else None
    if key and topic is None:
        raise CorrectionError(f"No topic {key!r} in the FAQ.")
    texts = _texts(form)
    with get_session_factory(settings.database_url).begin() as session:
        update = drafts.draft(
            session=session, topic=topic, changed=str(form.get("changed") or ""),
            author=viewer.name, texts=texts,
            audience=drafts.SUBSCRIBERS,
        )  # fmt: skip
        return int(update.id)


@requires(EDITOR_ROLES)
async def update_draft(request: Request, viewer: Viewer, form: FormData) -> Response:
    try:
        update_id = await run_in_threadpool(
            _draft_update, settings_of(request), viewer, form
        )
    except CorrectionError as error:
        flash(request, str(error), "error")
        key = quote(str(form.get("topic") or ""), safe="")
        return RedirectResponse(f"/corrections/updates/new?topic={key}", 303)
    flash(
        request,
        Words(viewer.language).gettext(
            "Update drafted: another editor approves it before it is sent."
        ),
    )
    return RedirectResponse(f"/corrections/{update_id}", status_code=303)


def progress_state(settings: Settings, correction_id: int) -> dict[str, Any]:
    """The correction's sending as its panel shows it (live)."""
    with get_session_factory(settings.database_url).begin() as session:
        correction = session.get(drafts.Correction, correction_id)
        if correction is None:
            raise HTTPException(404, "No such correction.")
        jobs.reap(correction)
        counts = sending.progress(session=session, correction_id=correction_id).counts
        return {
            "job": correction.job_state or "",
            "by": correction.job_by or "",
            "started": _when(settings, correction.job_started_at),
            "finished": _when(settings, correction.job_finished_at),
            "detail": correction.job_detail or "",
            "cancel_requested_by": correction.cancel_requested_by or "",
            "counts": {outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
            "people": sum(counts.values()),
        }


def correction_state(settings: Settings, correction_id: int) -> dict[str, Any]:
    with get_session_factory(settings.database_url).begin() as session:
        correction = session.get(drafts.Correction, correction_id)
        if correction is None:
            raise HTTPException(404, "No such correction.")
        shown = {
            "id": correction.id,
            "topic": correction.topic,
            "update": correction.is_update,
            "state": correction.state,
            "changed": correction.changed,
            "author": correction.author,
            "at": _when(settings, correction.created_at),
            "reviewed_by": correction.reviewed_by or "",
            "reviewed_at": _when(settings, correction.reviewed_at),
            "urgent": correction.urgent,
            "texts": {lang: correction.text(lang) for lang in ("fr", "en")},
        }
    return {
        "correction": shown,
        "progress": progress_state(settings, correction_id),
        "outcomes": OUTCOMES,
        "states": STATES,
        "job_states": JOB_STATES,
    }


@requires(EDITOR_ROLES)
async def correction_page(request: Request, viewer: Viewer) -> Response:
    correction_id = int(request.path_params["correction_id"])
    state = await run_in_threadpool(
        correction_state, settings_of(request), correction_id
    )
    return render_page(request, "correction.html", viewer, **state)


@requires(EDITOR_ROLES)
async def correction_events(request: Request, viewer: Viewer) -> Response:
    correction_id = int(request.path_params["correction_id"])
    settings = settings_of(request)
    await run_in_threadpool(progress_state, settings, correction_id)  # 404 first
    return event_stream(stream(request, progress_state, settings, correction_id))


def _act(settings: Settings, viewer: Viewer, correction_id: int, action: str) -> str:
    words = Words(viewer.language)
    if action == "send":
        jobs.start(settings, correction_id=correction_id, by=viewer.name)
        return words.gettext(
            "Sending: follow it below. You may close the page; nobody gets it twice."
        )
    # Read first: SQLite takes one writer at a time, and this transaction writes.
    topics = correctable(settings) if action in ("approve", "urgent") else {}
    with get_session_factory(settings.database_url).begin() as session:
        if action == "cancel":
            jobs.cancel(session=session, correction_id=correction_id, by=viewer.name)
            return words.gettext(
                "Stopping after the person being sent to: send again to go on."
            )
        if action == "reject":
            drafts.reject(
                session=session, correction_id=correction_id, reviewer=viewer.name
            )
            return words.gettext("Correction rejected: nobody will get it.")
        correction = drafts.get(session=session, correction_id=correction_id)
        drafts.approve(
            session=session, correction_id=correction_id, approver=viewer.name,
            is_admin=viewer.role == ADMIN,
            topic=topics.get(correction.topic), urgent=action == "urgent",
        )  # fmt: skip
        return words.gettext("Correction approved: it can be sent.")


@requires(EDITOR_ROLES)
async def correction_action(
    request: Request, viewer: Viewer, form: FormData
) -> Response:
    action = str(request.path_params["action"])
    if action not in ACTIONS:
        raise HTTPException(404, "No such action.")
    correction_id = int(request.path_params["correction_id"])
    try:
        message = await run_in_threadpool(
            _act, settings_of(request), viewer, correction_id, action
        )
        flash(request, message)
    except CorrectionError as error:
        flash(request, str(error), "error")
    return RedirectResponse(f"/corrections/{correction_id}", status_code=303)


routes = [
    Route("/corrections", index_page),
    Route("/corrections/topics/{key:str}", topic_page),
    Route("/corrections/topics/{key:str}", topic_draft, methods=["POST"]),
    Route("/corrections/updates/new", update_page),
    Route("/corrections/updates", update_draft, methods=["POST"]),
    Route("/corrections/{correction_id:int}", correction_page),
    Route("/corrections/{correction_id:int}/events", correction_events),
    Route(
        "/corrections/{correction_id:int}/{action:str}",
        correction_action,
        methods=["POST"],
    ),
]
