"""Which version of which answer each person received: the editors' audit trail.

relais faq log [--topic refund] [--conversation ID] [--limit 50]
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow


class AnswerSent(Base):
    __tablename__ = "answer_sent"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    topic = Column(String(50), nullable=False)
    language = Column(String(8), nullable=False)
    version = Column(String(12), nullable=False)  # bot.faq.live.version(text)
    text = Column(Text, nullable=False)
    sent_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_answer_sent_topic_sent_at", "topic", "sent_at"),
        Index("ix_answer_sent_conversation_id", "conversation_id"),
    )


def record_answer(
    *,
    session: Session,
    conversation_id: str,
    topic: str,
    language: str,
    version: str,
    text: str,
    now: datetime | None = None,
) -> AnswerSent:
    row = AnswerSent(
        conversation_id=conversation_id,
        topic=topic,
        language=language,
        version=version,
        text=text,
        sent_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def answers_sent(
    *,
    session: Session,
    topic: str | None = None,
    conversation_id: str | None = None,
    limit: int = 50,
) -> list[AnswerSent]:
    """The most recent answers sent, newest first."""
    statement = select(AnswerSent).order_by(AnswerSent.id.desc()).limit(limit)
    if topic:
        statement = statement.where(AnswerSent.topic == topic)
    if conversation_id:
        statement = statement.where(AnswerSent.conversation_id == conversation_id)
    return list(session.execute(statement).scalars())
