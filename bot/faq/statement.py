"""The company's official holding statement, one per language, every version kept.

    relais statement set --fr "..." --en "..."     # publishes a new version
    relais statement clear                         # no statement any more
    relais statement show                          # the active one and history

While a statement is active, the assistant shows it when a conversation
starts and whenever someone asks what is going on (the `situation` topic).

With four-eyes approval on (RELAIS_FOUR_EYES), a new version is a draft
until another editor or an admin approves it in the console; an admin may
publish their own version at once, recorded as urgent. Withdrawing the
statement needs nobody else: it makes the brand say less, never something
unchecked.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Column, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow
from bot.faq.pack import Topic
from bot.settings import Settings

logger = logging.getLogger(__name__)

MAX_LENGTH = 1000
# The FAQ topic that answers "what is going on?": the statement goes with it.
SITUATION_TOPIC = "situation"
# The statement's key in the record of answers sent (bot/faq/audit.py): who
# got which version of it, for corrections (bot/corrections/recipients.py).
STATEMENT_TOPIC = "_statement"
STATEMENT_TITLES = {"fr": "Communiqué officiel", "en": "Official statement"}
_INTRO = {
    "fr": "Communiqué officiel de {brand}, publié le {when} :",
    "en": "Official statement from {brand}, published on {when}:",
}


class StatementError(ValueError):
    """A refused statement; the message says why."""


class Statement(Base):
    __tablename__ = "holding_statement"

    id = Column(Integer, primary_key=True)
    text_fr = Column(Text, nullable=False)
    text_en = Column(Text, nullable=False)
    published_by = Column(String(100), nullable=False)
    published_at = Column(UTCDateTime, nullable=False, default=utcnow)
    cleared_by = Column(String(100))
    cleared_at = Column(UTCDateTime)
    # published, or draft (waiting for approval), rejected, replaced (by a
    # later draft). A draft's published_at is when it was written.
    state = Column(String(10), nullable=False, default="published")
    reviewed_by = Column(String(100))
    reviewed_at = Column(UTCDateTime)
    urgent = Column(Boolean, nullable=False, default=False)


PUBLISHED, DRAFT, REJECTED, REPLACED = "published", "draft", "rejected", "replaced"


def active_statement(*, session: Session) -> Statement | None:
    return session.execute(
        select(Statement)
        .where(Statement.cleared_at.is_(None), Statement.state == PUBLISHED)
        .order_by(Statement.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def clear_statement(
    *, session: Session, author: str, now: datetime | None = None
) -> Statement | None:
    """Withdraws the active statement; returns it, or None if there was none."""
    current = active_statement(session=session)
    if current is not None:
        current.cleared_at = now or utcnow()
        current.cleared_by = author
        session.flush()
    return current


def publish_statement(
    *, session: Session, text_fr: str, text_en: str, author: str,
    approval_needed: bool = False, urgent: bool = False, now: datetime | None = None,
) -> Statement:  # fmt: skip
    """Publishes a new version (the previous one is kept, withdrawn), or drafts it.

    Args:
        approval_needed: Four-eyes approval is on: the version is a draft
            (replacing an earlier draft) unless `urgent`.
        urgent: An admin publishing without a second person (the caller
            checks the role); recorded as such.
    """
    text_fr, text_en = text_fr.strip(), text_en.strip()
    for language, text in (("French", text_fr), ("English", text_en)):
        if not text:
            raise StatementError(f"The {language} text is empty: both are needed.")
        if len(text) > MAX_LENGTH:
            raise StatementError(
                f"The {language} text has {len(text)} characters; keep it under "
                f"{MAX_LENGTH}."
            )
    now = now or utcnow()
    waiting = pending_statement(session=session)
    if waiting is not None:
        waiting.state = REPLACED
    statement = Statement(
        text_fr=text_fr, text_en=text_en, published_by=author, published_at=now
    )
    if approval_needed and not urgent:
        statement.state = DRAFT
    else:
        clear_statement(session=session, author=author, now=now)
        statement.state = PUBLISHED
        if approval_needed:
            statement.urgent, statement.reviewed_by, statement.reviewed_at = (
                True, author, now,
            )  # fmt: skip
    session.add(statement)
    session.flush()
    return statement


def pending_statement(*, session: Session) -> Statement | None:
    """The draft waiting for approval, if any."""
    return (
        session.execute(
            select(Statement)
            .where(Statement.state == DRAFT)
            .order_by(Statement.id.desc())
        )
        .scalars()
        .first()
    )


def approve_statement(
    *, session: Session, statement_id: int, approver: str, is_admin: bool,
    urgent: bool = False, now: datetime | None = None,
) -> Statement:  # fmt: skip
    """Publishes a draft; its author may not, unless an admin marking it urgent."""
    draft = _draft(session, statement_id)
    if draft.published_by == approver and not (is_admin and urgent):
        raise StatementError(
            "You wrote this statement: another editor or an admin must approve it."
            + (" (As an admin you may mark it urgent.)" if is_admin else "")
        )
    now = now or utcnow()
    clear_statement(session=session, author=approver, now=now)
    draft.state, draft.published_at = PUBLISHED, now
    draft.reviewed_by, draft.reviewed_at = approver, now
    draft.urgent = draft.published_by == approver
    session.flush()
    return draft


def reject_statement(
    *, session: Session, statement_id: int, reviewer: str, now: datetime | None = None
) -> Statement:
    draft = _draft(session, statement_id)
    draft.state, draft.reviewed_by, draft.reviewed_at = (
        REJECTED,
        reviewer,
        now or utcnow(),
    )
    session.flush()
    return draft


def _draft(session: Session, statement_id: int) -> Statement:
    draft = session.get(Statement, statement_id, with_for_update=True)
    if draft is None or draft.state != DRAFT:
        raise StatementError("That statement is not waiting for approval any more.")
    return draft


def statement_history(*, session: Session, limit: int = 20) -> list[Statement]:
    """The statements published, newest first (drafts are not history)."""
    return list(
        session.execute(
            select(Statement)
            .where(Statement.state == PUBLISHED)
            .order_by(Statement.id.desc())
            .limit(limit)
        ).scalars()
    )


def statement_message(
    statement: Statement, language: str, zone: ZoneInfo, brand: str
) -> str:
    """The statement as the person reads it, signed by `brand`, with its time."""
    language = "en" if language == "en" else "fr"
    local = statement.published_at.astimezone(zone)
    when = (
        f"{local:%d/%m/%Y} à {local:%H:%M}"
        if language == "fr"
        else f"{local:%d/%m/%Y} at {local:%H:%M}"
    )
    text = statement.text_en if language == "en" else statement.text_fr
    return f"{_INTRO[language].format(brand=brand, when=when)}\n{text}"


def statement_topic(*, session: Session, zone: ZoneInfo, brand: str) -> Topic | None:
    """The active statement as a topic whose answers are its messages, so
    that who got which version of it, and correcting them, work as for an
    FAQ answer; None without one."""
    statement = active_statement(session=session)
    if statement is None:
        return None
    return Topic(
        key=STATEMENT_TOPIC,
        titles=dict(STATEMENT_TITLES),
        answers={
            language: statement_message(statement, language, zone, brand)
            for language in ("fr", "en")
        },
    )


def statement_for(settings: Settings, language: str) -> str | None:
    """The active statement's message, or None; never raises for the database.

    The assistant must keep answering when the database is down: it then
    shows no statement, and logs why.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import get_session_factory

    try:
        with get_session_factory(settings.database_url).begin() as session:
            statement = active_statement(session=session)
            if statement is None:
                return None
            return statement_message(
                statement, language, settings.timezone, settings.profile.brand
            )
    except SQLAlchemyError as error:
        logger.error("Holding statement not shown (database): %s", error)
        return None
