"""The company's official holding statement, one per language, every version kept.

    relais statement set --fr "..." --en "..."     # publishes a new version
    relais statement clear                         # no statement any more
    relais statement show                          # the active one and history

While a statement is active, the assistant shows it when a conversation
starts and whenever someone asks what is going on (the `situation` topic).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow
from bot.settings import Settings

logger = logging.getLogger(__name__)

MAX_LENGTH = 1000
# The FAQ topic that answers "what is going on?": the statement goes with it.
SITUATION_TOPIC = "situation"
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


def active_statement(*, session: Session) -> Statement | None:
    return session.execute(
        select(Statement)
        .where(Statement.cleared_at.is_(None))
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
    now: datetime | None = None,
) -> Statement:  # fmt: skip
    """Publishes a new version; the previous one is kept, withdrawn."""
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
    clear_statement(session=session, author=author, now=now)
    statement = Statement(
        text_fr=text_fr, text_en=text_en, published_by=author, published_at=now
    )
    session.add(statement)
    session.flush()
    return statement


def statement_history(*, session: Session, limit: int = 20) -> list[Statement]:
    return list(
        session.execute(
            select(Statement).order_by(Statement.id.desc()).limit(limit)
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
