"""Every version of every topic, drafts and approvals: what the bot says.

A topic's content (titles, answers, examples, owner, review date, enabled
flag) is kept as one row per version in `topic_version`. The **live**
version of a topic is its latest approved one: that is what every action
server answers with (bot/faq/live.py reads it from the database, so action
servers on several machines answer the same within a second of an
approval). The pack's files mirror the live versions, written on each
approval: they are what `rasa train` learns from, what `git diff` shows,
and the content of a topic nobody has edited in Relais yet.

With four-eyes approval on (RELAIS_FOUR_EYES), a saved change is a draft:
it reaches nobody until another editor or an admin approves it. An admin
may approve their own change when it cannot wait; the version records it
as urgent. A new draft replaces the topic's earlier draft (it was written
on top of it), so a topic has at most one draft waiting.

Two people editing the same topic: each save names the version it was
written on top of (`base`); if someone saved in between, the save is
refused with the other version, and nothing is written.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow
from bot.faq.pack import LANGUAGES, FaqError, Topic, parse_topic_file
from bot.faq.writer import check_topics, write_topics

DRAFT, APPROVED, REJECTED, REPLACED = "draft", "approved", "rejected", "replaced"
# The author of a topic's first version: the pack's file as it was before
# anyone edited the topic in Relais.
PACK_AUTHOR = "pack files"


class TopicVersion(Base):
    __tablename__ = "topic_version"

    id = Column(Integer, primary_key=True)
    topic = Column(String(50), nullable=False)
    number = Column(Integer, nullable=False)  # 1, 2, 3… per topic
    base = Column(Integer, nullable=False)  # the number it was written on (0: none)
    content = Column(JSON, nullable=False)  # content_of(topic)
    state = Column(String(10), nullable=False)
    author = Column(String(100), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    note = Column(String(200))  # "restored version 3", "spreadsheet import"…
    reviewed_by = Column(String(100))  # who approved or rejected it
    reviewed_at = Column(UTCDateTime)
    urgent = Column(Boolean, nullable=False, default=False)  # admin, no second person

    __table_args__ = (
        UniqueConstraint("topic", "number"),
        Index("ix_topic_version_state", "state"),
    )

    def as_topic(self) -> Topic:
        return topic_from(self.topic, self.content)


class VersionError(ValueError):
    """A refused change, approval or restore; the message says why."""


class VersionConflict(VersionError):
    """Someone saved the topic since the editor opened it: `current` is theirs."""

    def __init__(self, current: TopicVersion) -> None:
        super().__init__(
            f"{current.author} saved version {current.number} of this topic while "
            "you were editing it. Their version is shown; your text is kept below "
            "it: merge the two and save again."
        )
        self.current = current


def content_of(topic: Topic) -> dict[str, Any]:
    """The topic as JSON-ready data, for a version row."""
    return {
        "titles": {language: topic.titles.get(language, "") for language in LANGUAGES},
        "answers": {
            language: topic.answers.get(language, "") for language in LANGUAGES
        },
        "examples": {
            language: list(topic.examples.get(language, [])) for language in LANGUAGES
        },
        "owner": topic.owner,
        "review_by": topic.review_by.isoformat() if topic.review_by else None,
        "enabled": topic.enabled,
    }


def topic_from(key: str, content: dict[str, Any]) -> Topic:
    review_by = content.get("review_by")
    return Topic(
        key=key,
        titles=dict(content.get("titles") or {}),
        answers=dict(content.get("answers") or {}),
        examples={k: list(v) for k, v in (content.get("examples") or {}).items()},
        owner=content.get("owner"),
        review_by=date.fromisoformat(review_by) if review_by else None,
        enabled=bool(content.get("enabled", True)),
    )


# --- reading ----------------------------------------------------------------------


def history(*, session: Session, topic: str) -> list[TopicVersion]:
    """Every version of `topic`, newest first."""
    return list(
        session.execute(
            select(TopicVersion)
            .where(TopicVersion.topic == topic)
            .order_by(TopicVersion.number.desc())
        ).scalars()
    )


def live_version(*, session: Session, topic: str) -> TopicVersion | None:
    """The topic's latest approved version, or None if nobody edited it here."""
    return session.execute(
        select(TopicVersion)
        .where(TopicVersion.topic == topic, TopicVersion.state == APPROVED)
        .order_by(TopicVersion.number.desc())
        .limit(1)
    ).scalar_one_or_none()


def head(*, session: Session, topic: str) -> TopicVersion | None:
    """What an editor edits on top of: the waiting draft, else the live version."""
    return _waiting(session, topic) or live_version(session=session, topic=topic)


def drafts(*, session: Session) -> list[TopicVersion]:
    """Every draft waiting for approval, oldest first."""
    return list(
        session.execute(
            select(TopicVersion)
            .where(TopicVersion.state == DRAFT)
            .order_by(TopicVersion.id)
        ).scalars()
    )


def live_revision(*, session: Session) -> int:
    """A number that changes whenever a version is approved (they are never undone)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(TopicVersion)
            .where(TopicVersion.state == APPROVED)
        ).scalar_one()
    )


def live_topics(*, session: Session) -> dict[str, Topic]:
    """The live version of every topic edited in Relais, keyed by topic."""
    latest = (
        select(TopicVersion.topic, func.max(TopicVersion.number).label("number"))
        .where(TopicVersion.state == APPROVED)
        .group_by(TopicVersion.topic)
        .subquery()
    )
    rows = session.execute(
        select(TopicVersion).join(
            latest,
            (TopicVersion.topic == latest.c.topic)
            & (TopicVersion.number == latest.c.number),
        )
    ).scalars()
    return {row.topic: row.as_topic() for row in rows}


def live_pack(*, session: Session, faq_dir: Path) -> dict[str, Topic]:
    """Every topic as it is live now (its live version, else its file), by key."""
    pack = {}
    for path in sorted(faq_dir.glob("*.yml")):
        topic = file_topic(faq_dir, path.stem)
        if topic is not None:
            pack[topic.key] = topic
    pack.update(live_topics(session=session))
    return dict(sorted(pack.items()))


def file_topic(faq_dir: Path, key: str) -> Topic | None:
    """The topic as its file says, or None (no file, or it does not parse)."""
    path = faq_dir / f"{key}.yml"
    try:
        return parse_topic_file(path)
    except (FileNotFoundError, FaqError):
        return None


def outside_changes(*, session: Session, faq_dir: Path) -> list[str]:
    """Topics whose file was changed outside Relais since their live version.

    Relais answers with the live version, not the file: such a change is
    adopted (a new version) or overwritten from the console.
    """
    changed = []
    for key, topic in sorted(live_topics(session=session).items()):
        on_disk = file_topic(faq_dir, key)
        if on_disk is None or content_of(on_disk) != content_of(topic):
            changed.append(key)
    return changed


# --- changing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    version: TopicVersion
    live: bool  # False: a draft waiting for approval


# What the public reads: a change to these needs a second person when four-eyes
# approval is on. Examples, the owner and the review date do not.
PUBLIC_FIELDS = ("titles", "answers", "enabled")


def _public(content: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(content.get(name) for name in PUBLIC_FIELDS)


def save(
    *,
    session: Session,
    faq_dir: Path,
    topic: Topic,
    base: int | None,
    author: str,
    approval_needed: bool,
    urgent: bool = False,
    note: str | None = None,
    now: datetime | None = None,
    today: date | None = None,
) -> Saved:
    """Records a new version of `topic`, live at once or as a draft.

    Args:
        base: The version number the author started from: the topic's draft
            if one was waiting, else its live version (0 for a topic with no
            version yet, or a new topic). None for tools that change topics
            in bulk (a spreadsheet import, accepted suggestions): no conflict
            check, the change is made on top of the live version.
        approval_needed: Four-eyes approval is on. A change that leaves the
            titles, answers and enabled flag as they are live (new examples,
            say) goes live at once even then.
        urgent: An admin's change that goes live without a second person
            (the caller checks the role); recorded as such.

    Raises:
        VersionConflict: Someone saved the topic after `base`.
        VersionError: Nothing changed.
        PackRefused: The pack with this version would not pass the lint.
    """
    check_topics(faq_dir, [topic], today=today)
    saved = _record(session, faq_dir, topic, base, author, approval_needed, urgent,
                    note, now or utcnow())  # fmt: skip
    if saved.live:
        write_topics(faq_dir, [topic], today=today, lint=False)
    return saved


def save_many(
    *,
    session: Session,
    faq_dir: Path,
    topics: list[Topic],
    author: str,
    approval_needed: bool,
    note: str,
    now: datetime | None = None,
    today: date | None = None,
) -> list[Saved]:
    """`save` for several topics on top of their live versions, linted together.

    Topics that did not change are left out. All or nothing: if the pack would
    not pass the lint, no version is recorded and no file written.
    """
    check_topics(faq_dir, topics, today=today)
    now = now or utcnow()
    saved = []
    for topic in topics:
        try:
            saved.append(_record(session, faq_dir, topic, None, author,
                                 approval_needed, False, note, now))  # fmt: skip
        except VersionError:  # unchanged
            continue
    live = [one.version.as_topic() for one in saved if one.live]
    if live:
        write_topics(faq_dir, live, today=today, lint=False)
    return saved


def _record(
    session: Session,
    faq_dir: Path,
    topic: Topic,
    base: int | None,
    author: str,
    approval_needed: bool,
    urgent: bool,
    note: str | None,
    now: datetime,
) -> Saved:
    live = live_version(session=session, topic=topic.key)
    waiting = _waiting(session, topic.key)
    if live is None and waiting is None:
        if base:
            raise VersionError(f"There is no version {base} of {topic.key}.")
        on_disk = file_topic(faq_dir, topic.key)
        if on_disk is not None:
            if content_of(on_disk) == content_of(topic):
                raise VersionError("Nothing changed: this is the version live now.")
            live = _seed(session, on_disk, now)
            base = None if base is None else live.number  # base 0 was the file
    current = waiting or live
    if base is not None and base != (current.number if current else 0):
        assert current is not None
        raise VersionConflict(current)
    content = content_of(topic)
    if current is not None and current.content == content:
        raise VersionError("Nothing changed: this is the version already saved.")
    goes_live = (
        not approval_needed
        or urgent
        or (live is not None and _public(live.content) == _public(content))
    )
    on_top_of = current
    if waiting is not None and (base is not None or not goes_live):
        waiting.state = REPLACED  # this change was written on top of it
        waiting = None
    elif waiting is not None:
        on_top_of = live  # a bulk change that needs no approval, under the draft
    number = _last_number(session, topic.key) + 1
    version = TopicVersion(
        topic=topic.key,
        number=number,
        base=on_top_of.number if on_top_of else 0,
        content=content,
        state=APPROVED if goes_live else DRAFT,
        author=author,
        created_at=now,
        note=note,
        urgent=urgent and approval_needed,
    )
    if goes_live and approval_needed and urgent:
        version.reviewed_by, version.reviewed_at = author, now
    session.add(version)
    session.flush()  # a concurrent save of the same number fails here
    if waiting is not None and live is not None:
        _rebase(waiting, live.content, content, number)
    return Saved(version, goes_live)


def _waiting(session: Session, topic: str) -> TopicVersion | None:
    return session.execute(
        select(TopicVersion).where(
            TopicVersion.topic == topic, TopicVersion.state == DRAFT
        )
    ).scalar_one_or_none()


def _last_number(session: Session, topic: str) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.max(TopicVersion.number), 0)).where(
                TopicVersion.topic == topic
            )
        ).scalar_one()
    )


def _rebase(
    draft: TopicVersion, old: dict[str, Any], new: dict[str, Any], live_number: int
) -> None:
    """Carries examples added under a waiting draft into it; it stays on top."""
    examples = {language: list(texts) for language, texts in
                draft.content["examples"].items()}  # fmt: skip
    for language, texts in new["examples"].items():
        before = set(old["examples"].get(language, []))
        mine = examples.setdefault(language, [])
        mine += [text for text in texts if text not in before and text not in mine]
    draft.content = {**draft.content, "examples": examples}
    draft.base = live_number
    draft.number = live_number + 1


def _seed(session: Session, topic: Topic, now: datetime) -> TopicVersion:
    """Version 1: the topic as the pack's file had it before its first edit here."""
    version = TopicVersion(
        topic=topic.key,
        number=1,
        base=0,
        content=content_of(topic),
        state=APPROVED,
        author=PACK_AUTHOR,
        created_at=now,
        note="as in the pack's file before the first change in Relais",
    )
    session.add(version)
    session.flush()
    return version


def _draft(session: Session, version_id: int) -> TopicVersion:
    # Locked: two people approving the same draft at once take turns.
    version = session.get(TopicVersion, version_id, with_for_update=True)
    if version is None:
        raise VersionError("No such version.")
    if version.state != DRAFT:
        raise VersionError(
            f"Version {version.number} of {version.topic} is {version.state}, "
            "not waiting for approval."
        )
    return version


def approve(
    *,
    session: Session,
    faq_dir: Path,
    version_id: int,
    approver: str,
    is_admin: bool,
    urgent: bool = False,
    now: datetime | None = None,
    today: date | None = None,
) -> TopicVersion:
    """Makes a draft live: the pack's file is rewritten and every action server follows.

    Raises:
        VersionError: Not a draft, or the author approving their own change
            (allowed only to an admin who marks it urgent).
        PackRefused: The pack has changed and the draft no longer passes the lint.
    """
    version = _draft(session, version_id)
    if version.author == approver and not (is_admin and urgent):
        raise VersionError(
            "You wrote this change: another editor or an admin must approve it."
            + (" (As an admin you may mark it urgent.)" if is_admin else "")
        )
    now = now or utcnow()
    version.state = APPROVED
    version.reviewed_by, version.reviewed_at = approver, now
    version.urgent = version.author == approver
    session.flush()
    write_topics(faq_dir, [version.as_topic()], today=today)
    return version


def reject(
    *, session: Session, version_id: int, reviewer: str, now: datetime | None = None
) -> TopicVersion:
    """Drops a draft (its author withdrawing it, or a reviewer refusing it)."""
    version = _draft(session, version_id)
    version.state = REJECTED
    version.reviewed_by, version.reviewed_at = reviewer, now or utcnow()
    session.flush()
    return version


def restore(
    *,
    session: Session,
    faq_dir: Path,
    topic: str,
    number: int,
    base: int,
    author: str,
    approval_needed: bool,
    urgent: bool = False,
) -> Saved:
    """A new version with version `number`'s content (a draft if approval is on)."""
    old = session.execute(
        select(TopicVersion).where(
            TopicVersion.topic == topic, TopicVersion.number == number
        )
    ).scalar_one_or_none()
    if old is None:
        raise VersionError(f"There is no version {number} of {topic}.")
    return save(
        session=session,
        faq_dir=faq_dir,
        topic=old.as_topic(),
        base=base,
        author=author,
        approval_needed=approval_needed,
        urgent=urgent,
        note=f"restored version {number}",
    )


def rewrite_file(*, session: Session, faq_dir: Path, topic: str) -> None:
    """Overwrites the topic's file with its live version (an outside change undone)."""
    live = live_version(session=session, topic=topic)
    if live is None:
        raise VersionError(f"{topic} has no version in Relais.")
    write_topics(faq_dir, [live.as_topic()])


# --- differences ------------------------------------------------------------------

FIELDS = (
    ("titles", "fr", "Title (French)"),
    ("titles", "en", "Title (English)"),
    ("answers", "fr", "Answer (French)"),
    ("answers", "en", "Answer (English)"),
    ("examples", "fr", "Examples (French)"),
    ("examples", "en", "Examples (English)"),
    ("enabled", None, "Enabled"),
    ("owner", None, "Owner"),
    ("review_by", None, "Review by"),
)
_WORDS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Change:
    """One field that differs, as segments: ("same"|"removed"|"added", text)."""

    label: str
    segments: list[tuple[str, str]]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def word_changes(old: str, new: str) -> list[tuple[str, str]]:
    before, after = _WORDS.findall(old), _WORDS.findall(new)
    segments: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for operation, i1, i2, j1, j2 in matcher.get_opcodes():
        if operation == "equal":
            segments.append(("same", "".join(before[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("removed", "".join(before[i1:i2])))
        if j2 > j1:
            segments.append(("added", "".join(after[j1:j2])))
    return segments


def differences(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """What changed from `old` to `new` (all of `new` without `old`), word by word."""
    changes = []
    for name, language, label in FIELDS:
        before = (old or {}).get(name)
        after = new.get(name)
        if language is not None:
            before = (before or {}).get(language)
            after = (after or {}).get(language)
        if old is not None and _text(before) == _text(after):
            continue
        changes.append(Change(label, word_changes(_text(before), _text(after))))
    return changes
