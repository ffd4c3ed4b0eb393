"""Tables of the handoff queue.

A ticket is one conversation waiting for, or talking with, a human. It moves
waiting -> assigned -> closed; `release` puts it back to waiting, and a ticket
nobody took before the person left can end as abandoned. A conversation has at
most one open (waiting or assigned) ticket, enforced by a partial unique index.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from bot.db import Base, UTCDateTime, utcnow

__all__ = ["Base", "Ticket", "TicketNote", "UTCDateTime", "utcnow"]

WAITING, ASSIGNED, CLOSED, ABANDONED = "waiting", "assigned", "closed", "abandoned"
OPEN_STATUSES = (WAITING, ASSIGNED)
STATUSES = (WAITING, ASSIGNED, CLOSED, ABANDONED)
# Most urgent first; the queue is served in this order, then oldest first.
PRIORITIES = ("urgent", "high", "normal")


class Ticket(Base):
    __tablename__ = "handoff_ticket"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    channel = Column(String(64), nullable=False)
    language = Column(String(8), nullable=False)
    reason = Column(String(32), nullable=False)
    priority = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False, default=WAITING)
    agent = Column(String(100))
    # How many times the person asked for help while this ticket was open.
    escalations = Column(Integer, nullable=False, default=1)
    # JSON list of {"role": "user"|"bot", "text": ..., "at": ...}: the last
    # turns before the handoff, so an agent sees the context at once.
    transcript = Column(Text, nullable=False, default="[]")
    last_message = Column(Text, nullable=False, default="")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = Column(UTCDateTime)
    # When a human first wrote to the person (bot.handoff.agent.reply).
    first_reply_at = Column(UTCDateTime)
    # A human's latest message to the person.
    last_reply_at = Column(UTCDateTime)
    # The person's first message since a human's last reply, not answered
    # yet (bot/events/records.py sets it, a reply clears it): the next-
    # response clock (bot/handoff/sla.py).
    waiting_since = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)
    # The team it was passed to (the profile's `teams:`), if any: its members
    # see it first and auto-assignment gives it only to them.
    team = Column(String(32))

    notes = relationship(
        "TicketNote", order_by="TicketNote.created_at", back_populates="ticket"
    )

    __table_args__ = (
        Index(
            "uq_handoff_ticket_open_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=status.in_(OPEN_STATUSES),
            postgresql_where=status.in_(OPEN_STATUSES),
        ),
        Index("ix_handoff_ticket_status_created_at", "status", "created_at"),
        Index("ix_handoff_ticket_claimed_at", "claimed_at"),
        Index("ix_handoff_ticket_conversation_id", "conversation_id"),
        Index("ix_handoff_ticket_created_at", "created_at"),
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketNote(Base):
    """An internal note on a ticket, seen by agents only, never by the person."""

    __tablename__ = "handoff_note"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer,
        ForeignKey("handoff_ticket.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    author = Column(String(100), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    ticket = relationship("Ticket", back_populates="notes")
