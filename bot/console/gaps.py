"""The gaps page: what the bot could not answer, grouped, and topic drafts.

    GET  /gaps?period=24h           groups of unanswered questions (every role)
    POST /gaps/draft                a topic draft prefilled with a group's
                                    phrasings (editors)
    POST /gaps/draft/save           writes the draft into the pack, disabled,
                                    for an editor to finish and publish

Grouping and spikes: bot/insights/gaps.py and spikes.py.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console import accounts
from bot.console.i18n import Words
from bot.console.overview import EVERYONE, window
from bot.console.pages import render_page
from bot.console.security import Viewer, flash, requires, settings_of
from bot.console.topics import KEY, topic_from_form
from bot.db import get_session_factory, utcnow
from bot.faq import versions
from bot.faq.live import current_pack
from bot.faq.pack import Topic
from bot.faq.writer import PackRefused
from bot.insights import charts, gaps
from bot.insights.models import GapSpike
from bot.settings import Settings

EDITORS = accounts.EDITOR_ROLES
GROUPS_SHOWN = 20
DRAFT_PHRASINGS = 20
REVIEW_AFTER = timedelta(days=7)


def gaps_context(
    settings: Settings, params: dict[str, str], words: Words
) -> dict[str, Any]:
    start, end, period = window(settings, params, words)
    pack = current_pack(settings)
    with get_session_factory(settings.database_url).begin() as session:
        groups = gaps.groups_between(session, start, end, pack)
    hours = []
    at = start.replace(minute=0, second=0, microsecond=0)
    while at < end:
        hours.append(at)
        at += timedelta(hours=1)
    shown = []
    for group in groups[:GROUPS_SHOWN]:
        nearest = pack.get(group.nearest_topic or "")
        shown.append(
            {
                "label": group.label,
                "size": group.size,
                "recent": group.recent,
                "baseline": group.baseline,
                "growing": group.growing,
                "spike": group.spike,
                "languages": ", ".join(
                    f"{k} {v}" for k, v in group.languages.most_common()
                ),
                "examples": group.examples,
                "phrasings": [text for text, _ in group.phrasings[:DRAFT_PHRASINGS]],
                "nearest": nearest.title(words.language) if nearest else None,
                "nearest_key": group.nearest_topic,
                "similarity": group.similarity,
                "trend": charts.sparkline(
                    [group.per_hour.get(hour, 0) for hour in hours],
                    words.gettext("Messages per hour: {label}", label=group.label),
                ),
            }
        )
    return {
        "period": period,
        "params": params,
        "groups": shown,
        "total": sum(group.size for group in groups),
    }


@requires(EVERYONE)
async def gaps_page(request: Request, viewer: Viewer) -> Response:
    params = {
        k: request.query_params[k]
        for k in ("period", "day")
        if request.query_params.get(k)
    }
    context = await run_in_threadpool(
        gaps_context, settings_of(request), params, Words(viewer.language)
    )
    return render_page(request, "gaps.html", viewer, **context)


def _draft_key(label: str, pack: dict[str, Topic]) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", gaps.fold(label)) if len(w) > 3][:4]
    key = "_".join(words) or "new_topic"
    key = key if key[0].isalpha() else f"topic_{key}"
    candidate, number = key[:45], 2
    while candidate in pack:
        candidate, number = f"{key[:42]}_{number}", number + 1
    return candidate


def _split_lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


@requires(EDITORS)
async def draft_page(request: Request, viewer: Viewer, form: FormData) -> Response:
    """The draft form, prefilled from a group's phrasings."""
    settings = settings_of(request)
    phrasings = [str(text) for text in form.getlist("phrasing")][:DRAFT_PHRASINGS]
    languages = await run_in_threadpool(_languages_of, phrasings)
    pack = current_pack(settings)
    draft = {
        "key": _draft_key(phrasings[0] if phrasings else "", pack),
        "title_fr": "",
        "title_en": "",
        "answer_fr": "",
        "answer_en": "",
        "examples_fr": "\n".join(
            t for t, lang in zip(phrasings, languages, strict=True) if lang != "en"
        ),
        "examples_en": "\n".join(
            t for t, lang in zip(phrasings, languages, strict=True) if lang == "en"
        ),
        "spike": str(form.get("spike") or ""),
        "owner": settings.profile.email,
        "review_by": (utcnow().date() + REVIEW_AFTER).isoformat(),
    }
    return render_page(request, "gap_draft.html", viewer, draft=draft, problems=[])


def _languages_of(texts: list[str]) -> list[str]:
    from bot.insights.sentiment import WORD  # a word tokenizer, nothing more

    english = {
        "the",
        "is",
        "are",
        "what",
        "how",
        "can",
        "will",
        "i",
        "my",
        "to",
        "do",
        "does",
        "you",
        "your",
        "of",
        "for",
        "it",
    }
    languages = []
    for text in texts:
        words = [w.lower() for w in WORD.findall(text)]
        share = sum(w in english for w in words) / max(1, len(words))
        languages.append("en" if share >= 0.2 else "fr")
    return languages


def save_draft(settings: Settings, viewer: Viewer, form: FormData) -> str:
    """Writes the draft topic, disabled; returns its key. Raises PackRefused."""
    key = str(form.get("key") or "").strip()
    typed, problems = topic_from_form(key, form, Words(viewer.language))
    if not KEY.match(key) or key == "new":
        problems.insert(
            0,
            "The key is 3 to 50 lower-case letters, digits or _, "
            "starting with a letter.",
        )
    elif key in current_pack(settings):
        problems.insert(0, f"There is already a topic {key}: choose another key.")
    if problems:
        raise PackRefused(problems)
    topic = dataclasses.replace(typed, enabled=False)
    with get_session_factory(settings.database_url).begin() as session:
        if versions.head(session=session, topic=key) is not None:
            raise PackRefused([f"There is already a topic {key}: choose another key."])
        versions.save(
            session=session,
            faq_dir=settings.faq_dir,
            topic=topic,
            base=0,
            author=viewer.name,
            approval_needed=settings.four_eyes,
            note="made from a gap",
        )
        spike_id = str(form.get("spike") or "")
        if spike_id.isdigit():
            spike = session.get(GapSpike, int(spike_id))
            if spike is not None and spike.topic is None:
                spike.topic, spike.topic_at = key, utcnow()
    return key


@requires(EDITORS)
async def draft_save(request: Request, viewer: Viewer, form: FormData) -> Response:
    settings = settings_of(request)
    try:
        key = await run_in_threadpool(save_draft, settings, viewer, form)
    except PackRefused as refused:
        draft = {
            name: str(form.get(name) or "")
            for name in (
                "key",
                "title_fr",
                "title_en",
                "answer_fr",
                "answer_en",
                "examples_fr",
                "examples_en",
                "spike",
                "owner",
                "review_by",
            )
        }
        return render_page(
            request,
            "gap_draft.html",
            viewer,
            draft=draft,
            problems=refused.problems,
            status_code=400,
        )
    flash(
        request,
        Words(viewer.language).gettext(
            "Topic {key} saved, disabled: check it, enable it, and publish (Editors page) for the bot to answer it.",  # noqa: E501
            key=key,
        ),
    )
    return RedirectResponse(f"/topics/{key}", status_code=303)


routes = [
    Route("/gaps", gaps_page),
    Route("/gaps/draft", draft_page, methods=["POST"]),
    Route("/gaps/draft/save", draft_save, methods=["POST"]),
]
