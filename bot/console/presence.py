"""Who else has a conversation open: "Also viewing: Camille", so two agents
do not write at once.

Each open conversation page's live stream (bot/console/app.py) records its
viewer at most every `WRITE_EVERY`, in the database (every console process
behind nginx sees the same); a viewer not seen for `GONE_AFTER` has left.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Column, Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, get_session_factory, utcnow

WRITE_EVERY = timedelta(seconds=5)
GONE_AFTER = timedelta(seconds=20)


class TicketViewer(Base):
    __tablename__ = "ticket_viewer"

    ticket_id = Column(Integer, primary_key=True)
    agent = Column(String(40), primary_key=True)
    display_name = Column(String(100), nullable=False)
    seen_at = Column(UTCDateTime, nullable=False)


_written: dict[tuple[str, int, str], datetime] = {}
_lock = threading.Lock()


def seen(
    database_url: str,
    ticket_id: int,
    agent: str,
    display_name: str,
    now: datetime | None = None,
) -> None:
    """Records that `agent` has the conversation open (at most every WRITE_EVERY)."""
    now = now or utcnow()
    key = (database_url, ticket_id, agent)
    with _lock:
        last = _written.get(key)
        if last is not None and now - last < WRITE_EVERY:
            return
        _written[key] = now
    try:
        with get_session_factory(database_url).begin() as session:
            row = session.get(TicketViewer, (ticket_id, agent))
            if row is None:
                row = TicketViewer(ticket_id=ticket_id, agent=agent,
                                   display_name=display_name, seen_at=now)  # fmt: skip
                session.add(row)
            else:
                row.seen_at, row.display_name = now, display_name
            session.execute(
                delete(TicketViewer).where(TicketViewer.seen_at < now - GONE_AFTER * 30)
            )
    except IntegrityError:  # the same agent's second tab, at the same moment
        pass


def others(
    session: Session, ticket_id: int, agent: str, now: datetime | None = None
) -> list[str]:
    """The other people who have the conversation open now."""
    now = now or utcnow()
    return list(
        session.execute(
            select(TicketViewer.display_name)
            .where(
                TicketViewer.ticket_id == ticket_id,
                TicketViewer.agent != agent,
                TicketViewer.seen_at >= now - GONE_AFTER,
            )
            .order_by(TicketViewer.display_name)
        ).scalars()
    )
