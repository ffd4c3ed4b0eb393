"""The Suggestions page (editors): what people taught the FAQ, to accept or not.

Grouped by topic, the most asked topic first; each question with how many
people asked it, how it was learned and the evidence (bot/faq/suggestions.py);
accepting a whole topic takes its confirmed suggestions only. Accept writes
the selected questions into the pack as examples (optionally moved to another
topic); reject keeps them from coming back. `relais publish` then trains.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.accounts import EDITOR_ROLES
from bot.console.i18n import Words
from bot.console.pages import render_page
from bot.console.security import Viewer, flash, requires, settings_of
from bot.db import get_session_factory
from bot.faq import suggestions
from bot.faq.live import current_pack
from bot.settings import Settings

SHOWN = 500
SOURCE_LABELS = {
    suggestions.CLARIFICATION: "clicked a “did you mean” button",
    suggestions.REPHRASE: "answered after rephrasing",
    suggestions.AGENT: "an agent sent this answer",
}


def page_state(settings: Settings) -> dict[str, Any]:
    pack = current_pack(settings)
    with get_session_factory(settings.database_url).begin() as session:
        rows = suggestions.pending(session=session)[:SHOWN]
        groups = [
            {
                "topic": topic,
                "title": pack[topic].title("fr") if topic in pack else None,
                "asked": sum(row.asked for row in members),
                "confirmed": sum(1 for row in members if row.confirmed),
                "rows": [
                    {
                        "id": row.id,
                        "text": row.text,
                        "language": row.language,
                        "asked": row.asked,
                        "how": SOURCE_LABELS.get(row.source, row.source),
                        "evidence": row.evidence,
                        "similarity": row.similarity,
                        "confirmed": row.confirmed,
                        "first": row.first_seen.astimezone(settings.timezone).strftime(
                            "%d/%m %H:%M"
                        ),
                    }
                    for row in members
                ],
            }
            for topic, group in groupby(rows, key=lambda row: row.topic)
            for members in [list(group)]
        ]
    topics = sorted(
        ((key, topic.title("fr")) for key, topic in pack.items()),
        key=lambda item: item[1].lower(),
    )
    return {"groups": groups, "topics": topics, "count": len(rows)}


@requires(EDITOR_ROLES)
async def suggestions_page(request: Request, viewer: Viewer) -> Response:
    state = await run_in_threadpool(page_state, settings_of(request))
    return render_page(request, "suggestions.html", viewer, **state)


def _ids(form: FormData) -> list[int]:
    values = [str(value) for value in form.getlist("id")]
    if not all(value.isdigit() for value in values):
        raise suggestions.SuggestionError("Unknown suggestion.")
    return [int(value) for value in values]


def review(settings: Settings, action: str, viewer: Viewer, form: FormData) -> str:
    """Runs one review action; returns what to tell the editor."""
    words = Words(viewer.language)
    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        if action == "accept-topic":
            topic = str(form.get("topic") or "")
            # Only the confirmed ones: an unconfirmed rephrase is chosen by hand.
            ids = [
                row.id
                for row in suggestions.pending(session=session, topic=topic)
                if row.confirmed
            ]
        elif action in ("accept", "reject"):
            ids = _ids(form)
        else:
            raise HTTPException(404, "No such action.")
        if not ids:
            raise suggestions.SuggestionError(
                words.gettext("Select at least one question.")
            )
        if action == "reject":
            count = suggestions.reject(session=session, ids=ids, editor=viewer.name)
            return words.ngettext(
                "{n} suggestion rejected: it will not come back.",
                "{n} suggestions rejected: they will not come back.",
                count,
            )
        target = str(form.get("to") or "") or None
        done = suggestions.accept(
            session=session, faq_dir=settings.faq_dir, ids=ids, editor=viewer.name,
            topic=target,
        )  # fmt: skip
    written = ", ".join(
        words.gettext("{n} to {topic}", n=count, topic=key)
        for key, count in sorted(done.written.items())
    )
    message = (
        words.gettext(
            "Examples added: {written}. They reach the model at the next publish (relais publish).",  # noqa: E501
            written=written,
        )
        if written
        else words.gettext("Nothing new to add.")
    )
    return " ".join([message, *done.skipped])


@requires(EDITOR_ROLES)
async def suggestions_action(
    request: Request, viewer: Viewer, form: FormData
) -> Response:
    action = str(request.path_params["action"])
    try:
        message = await run_in_threadpool(
            review, settings_of(request), action, viewer, form
        )
        flash(request, message)
    except suggestions.SuggestionError as error:
        flash(request, str(error), "error")
    return RedirectResponse("/suggestions", status_code=303)
