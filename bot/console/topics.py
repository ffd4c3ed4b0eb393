"""The FAQ in the browser: topics, their versions, drafts and approvals.

    GET  /topics                     every topic, its state, what people asked
    GET  /topics/new, POST           a new topic
    GET  /topics/{key}               edit, preview, lint, drafts, history
    POST /topics/{key}               save a version (a draft with four-eyes on)
    POST /topics/{key}/lint          the lint's verdict on the form, as JSON
    POST /topics/{key}/approve       make a draft live (another person, or an
                                     admin marking it urgent)
    POST /topics/{key}/reject        drop a draft
    POST /topics/{key}/restore       a new version with an old one's content
    POST /topics/{key}/adopt         record the file's content (changed
                                     outside Relais) as a new version
    POST /topics/{key}/rewrite       overwrite the file with the live version

Editors and admins only. Versions, drafts and conflicts: bot/faq/versions.py.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.console import accounts
from bot.console.i18n import Words
from bot.console.pages import render_page
from bot.console.security import Viewer, flash, requires, settings_of
from bot.db import get_session_factory, utcnow
from bot.faq import versions
from bot.faq.expectations import Expectation, expect
from bot.faq.lint import ERROR, Finding, lint_pack, lint_topic
from bot.faq.live import current_pack
from bot.faq.pack import LANGUAGES, FaqError, Topic, load_pack
from bot.faq.writer import PackRefused
from bot.insights.models import ANSWERED, MessageFact
from bot.settings import Settings

EDITORS = accounts.EDITOR_ROLES
KEY = re.compile(r"^[a-z][a-z0-9_]{2,49}$")
MAX_TITLE = 120
MAX_EXAMPLE = 300
ASKED_OVER = timedelta(days=7)
HISTORY_SHOWN = 30
SAVED_AT_ONCE = (
    "Someone saved this topic at the same moment: nothing of yours was saved. "
    "Your text is kept below; open the topic again to see theirs."
)


# --- the form ---------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


TOO_LONG_EXAMPLE = {
    "fr": "A French example has {n} characters: keep examples under {most}.",
    "en": "An English example has {n} characters: keep examples under {most}.",
}
MISSING = {
    "title_fr": "Write the French title.",
    "title_en": "Write the English title.",
    "answer_fr": "Write the French answer.",
    "answer_en": "Write the English answer.",
}


def topic_from_form(
    key: str, form: FormData, words: Words | None = None
) -> tuple[Topic, list[str]]:
    """The topic an editor typed, and what is wrong with it (empty if nothing),
    said in `words` (English by default)."""
    _ = (words or Words("en")).gettext
    problems = []
    text = {
        name: str(form.get(name) or "").strip()
        for name in ("title_fr", "title_en", "answer_fr", "answer_en")
    }
    for name, value in text.items():
        if not value:
            problems.append(_(MISSING[name]))
        elif name.startswith("title") and len(value) > MAX_TITLE:
            problems.append(
                _(
                    "A title has {n} characters: keep it under {most} (it is a button).",  # noqa: E501
                    n=len(value),
                    most=MAX_TITLE,
                )
            )
    examples = {
        language: _lines(str(form.get(f"examples_{language}") or ""))
        for language in LANGUAGES
    }
    for language, texts in examples.items():
        for example in texts:
            if len(example) > MAX_EXAMPLE:
                problems.append(
                    _(TOO_LONG_EXAMPLE[language], n=len(example), most=MAX_EXAMPLE)
                )
                break
    owner = str(form.get("owner") or "").strip()
    if not owner:
        problems.append(_("Say who answers for this content (owner)."))
    review_text = str(form.get("review_by") or "").strip()
    review_by: date | None = None
    try:
        review_by = date.fromisoformat(review_text)
    except ValueError:
        problems.append(_("The review date is a day: 2026-12-05."))
    topic = Topic(
        key=key,
        titles={language: text[f"title_{language}"] for language in LANGUAGES},
        answers={language: text[f"answer_{language}"] for language in LANGUAGES},
        examples=examples,
        owner=owner or None,
        review_by=review_by,
        enabled=form.get("enabled") == "on",
    )
    return topic, problems


def form_values(topic: Topic) -> dict[str, Any]:
    """The topic as the form's fields."""
    values: dict[str, Any] = {
        "owner": topic.owner or "",
        "review_by": topic.review_by.isoformat() if topic.review_by else "",
        "enabled": topic.enabled,
    }
    for language in LANGUAGES:
        values[f"title_{language}"] = topic.titles.get(language, "")
        values[f"answer_{language}"] = topic.answers.get(language, "")
        values[f"examples_{language}"] = "\n".join(topic.examples.get(language, []))
    return values


# --- the list ---------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    total: int
    direct: int


def asked_this_week(settings: Settings, session: Any) -> dict[str, Asked]:
    """Per topic: messages about it over 7 days, and those answered directly."""
    since = utcnow() - ASKED_OVER
    rows = session.execute(
        select(MessageFact.topic, MessageFact.outcome, func.count())
        .where(MessageFact.at >= since, MessageFact.topic != "")
        .group_by(MessageFact.topic, MessageFact.outcome)
    ).all()
    totals: dict[str, list[int]] = {}
    for topic, outcome, count in rows:
        figures = totals.setdefault(topic, [0, 0])
        figures[0] += count
        if outcome == ANSWERED:
            figures[1] += count
    return {topic: Asked(*figures) for topic, figures in totals.items()}


# faq folder -> (its files' signature and the day, the lint's findings)
_lint_cache: dict[Path, tuple[tuple[Any, ...], list[Finding]]] = {}
_lint_lock = threading.Lock()


def _signature(faq_dir: Path, today: date) -> tuple[Any, ...]:
    return (
        today,
        *(
            (path.name, path.stat().st_mtime_ns, path.stat().st_size)
            for path in sorted(faq_dir.glob("*.yml"))
        ),
    )


def pack_findings(faq_dir: Path, today: date) -> list[Finding]:
    """The full lint of the pack's files, run again only when a file changed."""
    signature = _signature(faq_dir, today)
    with _lint_lock:
        cached = _lint_cache.get(faq_dir)
        if cached is None or cached[0] != signature:
            cached = (signature, lint_pack(faq_dir, today=today))
            _lint_cache[faq_dir] = cached
        return cached[1]


# (faq folder, target) -> (its files' signature, what to expect of it)
_expectations: dict[tuple[Path, float], tuple[tuple[Any, ...], Expectation | None]] = {}


# A lint finding's {language} as the editor reads it ("no en examples",
# "aucun exemple en anglais").
LINT_LANGUAGES = {"fr": {"fr": "en français", "en": "en anglais"}, "en": {}}


def finding_text(finding: Finding, words: Words) -> str:
    """A lint finding in the editor's language."""
    values = dict(finding.values)
    if "language" in values:
        names = LINT_LANGUAGES[words.language]
        values["language"] = names.get(values["language"], values["language"])
    return words.gettext(finding.template, **values)


def pack_expectation(
    faq_dir: Path, target: float, words: Words | None = None
) -> list[str]:
    """What the pack's editors can expect (bot/faq/expectations.py), worked
    out again only when a file changed."""
    signature = _signature(faq_dir, date.today())
    with _lint_lock:
        cached = _expectations.get((faq_dir, target))
        if cached is None or cached[0] != signature:
            try:
                topics = list(load_pack(faq_dir).values())
                expected = expect(topics, target) if topics else None
            except FaqError:
                expected = None  # the lint says what to fix first
            cached = (signature, expected)
            _expectations[(faq_dir, target)] = cached
        expected = cached[1]
    if expected is None:
        return []
    return expected.lines(words.gettext if words else None)


def topics_context(settings: Settings, words: Words) -> dict[str, Any]:
    today = date.today()
    findings = pack_findings(settings.faq_dir, today)
    with get_session_factory(settings.database_url).begin() as session:
        pack = versions.live_pack(session=session, faq_dir=settings.faq_dir)
        drafts = versions.drafts(session=session)
        outside = set(
            versions.outside_changes(session=session, faq_dir=settings.faq_dir)
        )
        asked = asked_this_week(settings, session)
        waiting = {draft.topic: draft for draft in drafts}
        rows = []
        for key, topic in pack.items():
            mine = [f for f in findings if f.topic == key]
            figures = asked.get(key, Asked(0, 0))
            rows.append(
                {
                    "key": key,
                    "title": topic.title("fr"),
                    "enabled": topic.enabled,
                    "overdue": topic.review_by is not None and topic.review_by < today,
                    "review_by": topic.review_by,
                    "errors": [
                        finding_text(f, words) for f in mine if f.level == ERROR
                    ],
                    "warnings": [
                        finding_text(f, words) for f in mine if f.level != ERROR
                    ],
                    "asked": figures.total,
                    "direct": figures.direct,
                    "waiting": key in waiting,
                    "outside": key in outside,
                }
            )
        for key, draft in waiting.items():
            if key not in pack:  # a new topic waiting for approval
                rows.append(
                    {
                        "key": key,
                        "title": draft.as_topic().title("fr"),
                        "enabled": False,
                        "overdue": False,
                        "review_by": None,
                        "errors": [],
                        "warnings": [],
                        "asked": 0,
                        "direct": 0,
                        "waiting": True,
                        "outside": False,
                    }
                )
        return {
            "rows": rows,
            "drafts": [
                {
                    "topic": draft.topic,
                    "number": draft.number,
                    "by": draft.author,
                    "at": _when(settings, draft.created_at),
                }
                for draft in drafts
            ],
            "four_eyes": settings.four_eyes,
            "expectation": pack_expectation(
                settings.faq_dir, settings.profile.wrong_answers_at_most, words
            ),
        }


def _when(settings: Settings, moment: Any) -> str:
    return str(moment.astimezone(settings.timezone).strftime("%d/%m %H:%M"))


@requires(EDITORS)
async def topics_page(request: Request, viewer: Viewer) -> Response:
    context = await run_in_threadpool(
        topics_context, settings_of(request), Words(viewer.language)
    )
    return render_page(request, "topics.html", viewer, **context)


# --- one topic --------------------------------------------------------------------


def topic_context(
    settings: Settings,
    key: str,
    viewer: Viewer,
    typed: Topic | None = None,
) -> dict[str, Any]:
    """Everything the topic page shows; `typed` keeps what the editor wrote."""
    with get_session_factory(settings.database_url).begin() as session:
        live = versions.live_version(session=session, topic=key)
        waiting = versions.head(session=session, topic=key)
        waiting = (
            waiting if waiting is not None and waiting.state == versions.DRAFT else None
        )
        on_disk = versions.file_topic(settings.faq_dir, key)
        if live is None and waiting is None and on_disk is None:
            raise HTTPException(404, f"There is no topic {key}.")
        live_topic = live.as_topic() if live else on_disk
        head = waiting or live
        shown = typed or (head.as_topic() if head else on_disk)
        assert shown is not None
        rows = versions.history(session=session, topic=key)[:HISTORY_SHOWN]
        history = []
        for index, row in enumerate(rows):
            previous = rows[index + 1].content if index + 1 < len(rows) else None
            history.append(
                {
                    "id": row.id,
                    "number": row.number,
                    "state": row.state,
                    "live": live is not None and row.id == live.id,
                    "by": row.author,
                    "at": _when(settings, row.created_at),
                    "reviewed_by": row.reviewed_by,
                    "reviewed_at": _when(settings, row.reviewed_at)
                    if row.reviewed_at
                    else None,
                    "urgent": row.urgent,
                    "note": row.note,
                    "changes": versions.differences(previous, row.content),
                }
            )
        outside = None
        if live is not None and on_disk is not None:
            if versions.content_of(on_disk) != live.content:
                outside = versions.differences(
                    live.content, versions.content_of(on_disk)
                )
        elif live is not None:
            outside = []  # the file is missing or does not parse
        figures = asked_this_week(settings, session).get(key, Asked(0, 0))
        return {
            "key": key,
            "values": form_values(shown),
            "base": head.number if head else 0,
            "live_title": live_topic.title("fr") if live_topic else key,
            "draft": None
            if waiting is None
            else {
                "id": waiting.id,
                "number": waiting.number,
                "by": waiting.author,
                "at": _when(settings, waiting.created_at),
                "changes": versions.differences(
                    live.content if live else None, waiting.content
                ),
                "mine": waiting.author == viewer.name,
            },
            "history": history,
            "outside": outside,
            "asked": figures,
            "four_eyes": settings.four_eyes,
            "is_new": False,
        }


@requires(EDITORS)
async def topic_page(request: Request, viewer: Viewer) -> Response:
    key = str(request.path_params["key"])
    context = await run_in_threadpool(topic_context, settings_of(request), key, viewer)
    return render_page(request, "topic.html", viewer, **context)


@dataclass
class Refused:
    """A save that did not happen: the page is shown again with the editor's text."""

    status: int
    problems: list[str]
    conflict: dict[str, Any] | None = None


def _save(
    settings: Settings, key: str, viewer: Viewer, form: FormData, is_new: bool
) -> str | Refused:
    topic, problems = topic_from_form(key, form, Words(viewer.language))
    if is_new and (not KEY.match(key) or key == "new"):
        problems.insert(
            0,
            "The key is 3 to 50 lower-case letters, digits or _, starting with a "
            "letter (it names the topic's file).",
        )
    if problems:
        return Refused(400, problems)
    base_text = str(form.get("base") or "0")
    if not base_text.isdigit():
        return Refused(400, ["The form is incomplete: open the topic again."])
    urgent = form.get("urgent") == "on" and viewer.role == accounts.ADMIN
    try:
        with get_session_factory(settings.database_url).begin() as session:
            exists = (
                versions.head(session=session, topic=key) is not None
                or versions.file_topic(settings.faq_dir, key) is not None
                or (settings.faq_dir / f"{key}.yml").exists()
            )
            if is_new and exists:
                return Refused(
                    409, [f"There is already a topic {key}: choose another key."]
                )
            if not is_new and not exists:
                # A new topic is made at /topics/new, where its key is checked:
                # saving here would write a file under any name.
                return Refused(
                    404, [f"There is no topic {key}: add it with “New topic”."]
                )
            try:
                saved = versions.save(
                    session=session,
                    faq_dir=settings.faq_dir,
                    topic=topic,
                    base=int(base_text),
                    author=viewer.name,
                    approval_needed=settings.four_eyes,
                    urgent=urgent,
                )
            except versions.VersionConflict as conflict:
                return _conflict(settings, conflict, topic)
    except PackRefused as refused:
        return Refused(400, ["The lint refuses this version:", *refused.problems])
    except versions.VersionError as error:
        return str(error)
    except IntegrityError:  # the same version number, saved at the same moment
        return Refused(409, [SAVED_AT_ONCE])
    number = saved.version.number
    _ = Words(viewer.language).gettext
    if saved.live:
        return " ".join(
            part
            for part in (
                _(
                    "Version {number} of {key} is live: the bot answers with it now.",
                    number=number,
                    key=key,
                ),
                _("Recorded as urgent (no second person).")
                if saved.version.urgent
                else "",
                _("New examples reach the model at the next publish."),
            )
            if part
        )
    return _(
        "Version {number} of {key} saved as a draft: people see it once another editor or an admin approves it.",  # noqa: E501
        number=number,
        key=key,
    )


def _conflict(
    settings: Settings, conflict: versions.VersionConflict, topic: Topic
) -> Refused:
    """The other person's version, and what the editor's own changes to it."""
    theirs = conflict.current
    return Refused(
        409,
        [str(conflict)],
        {
            "number": theirs.number,
            "by": theirs.author,
            "at": _when(settings, theirs.created_at),
            "state": theirs.state,
            "values": form_values(theirs.as_topic()),
            "changes": versions.differences(theirs.content, versions.content_of(topic)),
        },
    )


async def _save_and_answer(
    request: Request, viewer: Viewer, form: FormData, key: str, is_new: bool
) -> Response:
    settings = settings_of(request)
    result = await run_in_threadpool(_save, settings, key, viewer, form, is_new)
    if isinstance(result, str):
        flash(request, result)
        return RedirectResponse(f"/topics/{key}", status_code=303)
    typed, _ = topic_from_form(key, form)
    if is_new:
        context = new_topic_context(settings, typed)
        context["values"]["key"] = key
    else:
        context = await run_in_threadpool(topic_context, settings, key, viewer, typed)
    if result.conflict is not None:
        context["base"] = result.conflict["number"]
    return render_page(
        request,
        "topic.html",
        viewer,
        status_code=result.status,
        problems=result.problems,
        conflict=result.conflict,
        **context,
    )


@requires(EDITORS)
async def topic_save(request: Request, viewer: Viewer, form: FormData) -> Response:
    return await _save_and_answer(
        request, viewer, form, str(request.path_params["key"]), is_new=False
    )


def new_topic_context(settings: Settings, typed: Topic | None = None) -> dict[str, Any]:
    blank = typed or Topic(
        key="",
        review_by=date.today() + timedelta(days=7),
        enabled=True,
    )
    values = form_values(blank)
    values["key"] = ""
    return {
        "key": "",
        "values": values,
        "base": 0,
        "live_title": "",
        "draft": None,
        "history": [],
        "outside": None,
        "asked": Asked(0, 0),
        "four_eyes": settings.four_eyes,
        "is_new": True,
    }


@requires(EDITORS)
async def new_topic_page(request: Request, viewer: Viewer) -> Response:
    return render_page(
        request, "topic.html", viewer, **new_topic_context(settings_of(request))
    )


@requires(EDITORS)
async def new_topic_save(request: Request, viewer: Viewer, form: FormData) -> Response:
    key = str(form.get("key") or "").strip()
    return await _save_and_answer(request, viewer, form, key, is_new=True)


# --- live lint --------------------------------------------------------------------


def lint_form(
    settings: Settings, key: str, form: FormData, words: Words | None = None
) -> dict[str, Any]:
    topic, problems = topic_from_form(key or "new_topic", form, words)
    pack = current_pack(settings)  # cached: this runs as the editor types
    others = [other for name, other in pack.items() if name != topic.key]
    findings = lint_topic(topic, others, today=date.today()) if not problems else []
    return {
        "problems": problems,
        "findings": [
            {"level": f.level, "message": finding_text(f, words or Words("en"))}
            for f in findings
        ],
    }


@requires(EDITORS)
async def topic_lint(request: Request, viewer: Viewer, form: FormData) -> Response:
    key = str(request.path_params.get("key") or form.get("key") or "")
    verdict = await run_in_threadpool(
        lint_form, settings_of(request), key, form, Words(viewer.language)
    )
    return JSONResponse(verdict)


# --- approvals, restore, outside changes ------------------------------------------


def _version_id(form: FormData) -> int:
    value = str(form.get("version") or "")
    if not value.isdigit():
        raise versions.VersionError("Choose the version.")
    return int(value)


def _act(
    settings: Settings, key: str, action: str, viewer: Viewer, form: FormData
) -> str:
    is_admin = viewer.role == accounts.ADMIN
    urgent = form.get("urgent") == "on" and is_admin
    _ = Words(viewer.language).gettext
    with get_session_factory(settings.database_url).begin() as session:
        if action == "approve":
            version = versions.approve(
                session=session,
                faq_dir=settings.faq_dir,
                version_id=_version_id(form),
                approver=viewer.name,
                is_admin=is_admin,
                urgent=urgent,
            )
            approved = _(
                "Version {number} of {key} approved: the bot answers with it now.",
                number=version.number,
                key=key,
            )
            if version.urgent:
                return approved + " " + _("Recorded as urgent (no second person).")
            return approved
        if action == "reject":
            version = versions.reject(
                session=session, version_id=_version_id(form), reviewer=viewer.name
            )
            if version.author == viewer.name:
                return _(
                    "Draft {number} of {key} withdrawn.", number=version.number, key=key
                )
            return _(
                "Draft {number} of {key} rejected: people never saw it.",
                number=version.number,
                key=key,
            )
        base = str(form.get("base") or "0")
        if action == "restore":
            number = str(form.get("number") or "")
            if not number.isdigit() or not base.isdigit():
                raise versions.VersionError("Choose the version to restore.")
            saved = versions.restore(
                session=session,
                faq_dir=settings.faq_dir,
                topic=key,
                number=int(number),
                base=int(base),
                author=viewer.name,
                approval_needed=settings.four_eyes,
                urgent=urgent,
            )
            if saved.live:
                return _(
                    "Version {number} restored as version {new}, live.",
                    number=number,
                    new=saved.version.number,
                )
            return _(
                "Version {number} restored as version {new}, a draft waiting for approval.",  # noqa: E501
                number=number,
                new=saved.version.number,
            )
        if action == "adopt":
            on_disk = versions.file_topic(settings.faq_dir, key)
            if on_disk is None or not base.isdigit():
                raise versions.VersionError(
                    f"The file {key}.yml is missing or does not parse: nothing to "
                    "adopt."
                )
            saved = versions.save(
                session=session,
                faq_dir=settings.faq_dir,
                topic=on_disk,
                base=int(base),
                author=viewer.name,
                approval_needed=settings.four_eyes,
                urgent=urgent,
                note="adopted from the file, changed outside Relais",
            )
            if saved.live:
                return _(
                    "The file's content is version {new}, live.",
                    new=saved.version.number,
                )
            return _(
                "The file's content is version {new}, a draft waiting for approval.",
                new=saved.version.number,
            )
        if action == "rewrite":
            versions.rewrite_file(session=session, faq_dir=settings.faq_dir, topic=key)
            return _("{key}.yml rewritten from the live version.", key=key)
    raise HTTPException(404, "No such action.")


@requires(EDITORS)
async def topic_action(request: Request, viewer: Viewer, form: FormData) -> Response:
    key = str(request.path_params["key"])
    action = str(request.path_params["action"])
    try:
        message = await run_in_threadpool(
            _act, settings_of(request), key, action, viewer, form
        )
        flash(request, message)
    except versions.VersionConflict as conflict:
        flash(request, str(conflict).split(". ")[0] + ": nothing was changed.", "error")
    except versions.VersionError as error:
        flash(request, str(error), "error")
    except PackRefused as refused:
        flash(request, "The lint refuses it: " + "; ".join(refused.problems), "error")
    except IntegrityError:
        flash(request, SAVED_AT_ONCE.split(": ")[0] + ": nothing was changed.", "error")
    return RedirectResponse(f"/topics/{key}", status_code=303)


routes = [
    Route("/topics", topics_page),
    Route("/topics/new", new_topic_page),
    Route("/topics/new", new_topic_save, methods=["POST"]),
    Route("/topics/new/lint", topic_lint, methods=["POST"]),
    Route("/topics/{key:str}", topic_page),
    Route("/topics/{key:str}", topic_save, methods=["POST"]),
    Route("/topics/{key:str}/lint", topic_lint, methods=["POST"]),
    Route("/topics/{key:str}/{action:str}", topic_action, methods=["POST"]),
]
