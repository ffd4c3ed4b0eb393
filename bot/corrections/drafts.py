"""A correction is public words: drafted by one editor, approved by another.

An editor drafts the correction of a topic whose answer changed: what
changed, in a line, and the message in French and English, prefilled from
the topic's current answer. It reaches nobody until a second editor or an
admin approves it; an admin may approve their own when it cannot wait, and
the correction records it as urgent. This holds whether or not topics need
four-eyes approval (RELAIS_FOUR_EYES): an edited answer reaches the people
who ask, a correction is sent to thousands who did not.

A correction remembers the versions of the answer it corrects towards: if
the topic changes again before it is approved, approving it is refused (the
message would announce an answer that is no longer the current one).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.corrections.recipients import current_versions
from bot.db import Base, UTCDateTime, utcnow
from bot.faq.pack import Topic

DRAFT, APPROVED, REJECTED = "draft", "approved", "rejected"
# Who a correction is for: the people who got an earlier answer of its topic,
# or the people who asked to be kept informed (an update,
# bot/corrections/subscriptions.py).
OUTDATED, SUBSCRIBERS = "outdated", "subscribers"
MAX_LENGTH = 1000  # characters per language, the answer included
LANGUAGES = ("fr", "en")
INTRO = {
    "fr": "Mise à jour : {changed}",
    "en": "Update: {changed}",
}
NEWS = {
    "fr": "Du nouveau : {changed}",
    "en": "News: {changed}",
}


class Correction(Base):
    __tablename__ = "correction"

    id = Column(Integer, primary_key=True)
    # The topic's key; for an update, "" is the whole crisis.
    topic = Column(String(100), nullable=False)
    audience = Column(String(12), nullable=False, default=OUTDATED)
    # The answer's versions it corrects towards, by language (bot.faq.live.version).
    towards = Column(JSON, nullable=False)
    changed = Column(Text, nullable=False)  # what changed, in a line
    text_fr = Column(Text, nullable=False)
    text_en = Column(Text, nullable=False)
    state = Column(String(12), nullable=False, default=DRAFT)
    author = Column(String(100), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    reviewed_by = Column(String(100))
    reviewed_at = Column(UTCDateTime)
    urgent = Column(Boolean, nullable=False, default=False)
    # Its sending job (bot/corrections/jobs.py): none yet, running, finished,
    # cancelled or failed; who started it, where, and who asked it to stop.
    job_state = Column(String(10))
    job_by = Column(String(100))
    job_host = Column(String(255))
    job_pid = Column(Integer)
    job_started_at = Column(UTCDateTime)
    job_finished_at = Column(UTCDateTime)
    job_detail = Column(Text)
    cancel_requested_by = Column(String(100))

    __table_args__ = (Index("ix_correction_topic_created_at", "topic", "created_at"),)

    def text(self, language: str) -> str:
        return str(self.text_en if language == "en" else self.text_fr)

    @property
    def is_update(self) -> bool:
        """News for the people who asked to be kept informed."""
        return bool(self.audience == SUBSCRIBERS)


class CorrectionError(ValueError):
    """What was asked cannot be done; the message says why, for a person."""


def prefill(topic: Topic, changed: str) -> dict[str, str]:
    """The message in each language: what changed, then the current answer."""
    return {
        language: f"{INTRO[language].format(changed=changed)}\n{answer}"
        for language in LANGUAGES
        if (answer := topic.answers.get(language) or topic.answers.get("fr") or "")
    }


def prefill_update(topic: Topic | None, news: str) -> dict[str, str]:
    """An update's message in each language: the news, then the topic's
    current answer (none for the whole crisis)."""
    messages = {}
    for language in LANGUAGES:
        answer = (
            (topic.answers.get(language) or topic.answers.get("fr") or "")
            if topic is not None
            else ""
        )
        messages[language] = "\n".join(
            part for part in (NEWS[language].format(changed=news), answer) if part
        )
    return messages


def draft(
    *,
    session: Session,
    topic: Topic | None,
    changed: str,
    author: str,
    texts: dict[str, str] | None = None,
    now: datetime | None = None,
    audience: str = OUTDATED,
) -> Correction:
    """Records a draft correction of `topic` (for SUBSCRIBERS, an update;
    `topic` None is then the whole crisis); `texts` replaces the prefilled
    message in the languages it names."""
    changed = " ".join(changed.split())
    if not changed:
        raise CorrectionError(
            "Say what changed, in a line." if audience == OUTDATED
            else "Say what is new, in a line."
        )  # fmt: skip
    if audience == SUBSCRIBERS:
        prefilled = prefill_update(topic, changed)
    elif topic is None:
        raise CorrectionError("A correction is of a topic's answer.")
    else:
        prefilled = prefill(topic, changed)
    messages = {**prefilled, **{k: v.strip() for k, v in (texts or {}).items()}}
    for language in LANGUAGES:
        text = messages.get(language, "")
        if not text:
            raise CorrectionError(
                "The correction needs a message in {language}.".format(
                    language="French" if language == "fr" else "English"
                )
            )
        if len(text) > MAX_LENGTH:
            raise CorrectionError(
                f"A correction is at most {MAX_LENGTH} characters per language."
            )
    correction = Correction(
        topic=topic.key if topic is not None else "",
        towards=current_versions(topic)
        if topic is not None and audience == OUTDATED
        else {},
        changed=changed, text_fr=messages["fr"], text_en=messages["en"],
        state=DRAFT, author=author, created_at=now or utcnow(), audience=audience,
    )  # fmt: skip
    session.add(correction)
    session.flush()
    return correction


def get(*, session: Session, correction_id: int) -> Correction:
    correction = session.get(Correction, correction_id)
    if correction is None:
        raise CorrectionError(f"No correction #{correction_id}.")
    return correction


def approve(
    *,
    session: Session,
    correction_id: int,
    approver: str,
    is_admin: bool,
    topic: Topic | None,
    urgent: bool = False,
    now: datetime | None = None,
) -> Correction:
    """Approves a draft, ready to send. `topic` is the topic as it is live now.

    Raises:
        CorrectionError: not a draft; its author approving it (allowed only
            to an admin who marks it urgent); the topic gone or changed since.
    """
    correction = _draft(session, correction_id)
    if correction.author == approver and not (is_admin and urgent):
        raise CorrectionError(
            "You wrote this correction: another editor or an admin must approve it."
            + (" (As an admin you may mark it urgent.)" if is_admin else "")
        )
    if correction.audience == SUBSCRIBERS:
        pass  # news for the people who asked for it: no earlier answer to match
    elif topic is None or topic.key != correction.topic:
        raise CorrectionError(
            f"The topic {correction.topic!r} is no longer in the FAQ: "
            "reject this correction."
        )
    elif current_versions(topic) != correction.towards:
        raise CorrectionError(
            "The answer has changed since this correction was written: "
            "reject it and draft a new one from the current answer."
        )
    correction.state = APPROVED
    correction.reviewed_by, correction.reviewed_at = approver, now or utcnow()
    correction.urgent = correction.author == approver
    session.flush()
    return correction


def reject(
    *, session: Session, correction_id: int, reviewer: str, now: datetime | None = None
) -> Correction:
    """Drops a draft (its author withdrawing it, or a reviewer refusing it)."""
    correction = _draft(session, correction_id)
    correction.state = REJECTED
    correction.reviewed_by, correction.reviewed_at = reviewer, now or utcnow()
    session.flush()
    return correction


def listed(*, session: Session, limit: int = 50) -> list[Correction]:
    """The most recent corrections, newest first."""
    statement = select(Correction).order_by(Correction.id.desc()).limit(limit)
    return list(session.execute(statement).scalars())


def _draft(session: Session, correction_id: int) -> Correction:
    correction = get(session=session, correction_id=correction_id)
    if correction.state != DRAFT:
        raise CorrectionError(
            f"Correction #{correction.id} is {correction.state}, not a draft."
        )
    return correction
