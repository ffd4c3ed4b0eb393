"""Rasa's SQL event broker (`make run`'s endpoints.yml, table `events`), read
from a stored cursor: the last event handled is stored in `event_cursor`, so a
restart neither skips nor repeats events, and several consoles never handle
one event twice (the cursor row is locked while a batch is handled)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, get_engine, get_session_factory
from bot.events.records import BATCH, Urgent, apply_events, decode

CURSOR_NAME = "rasa_events"

# Rasa's SQLEventBroker table (rasa/core/brokers/sql.py); Rasa creates it.
_broker = MetaData()
rasa_events = Table(
    "events",
    _broker,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)


class EventCursor(Base):
    """How far the watcher has read an event stream."""

    __tablename__ = "event_cursor"

    name = Column(String(50), primary_key=True)
    last_id = Column(Integer, nullable=False, default=0)


def _cursor(session: Session) -> EventCursor:
    cursor = session.execute(
        select(EventCursor)
        .where(EventCursor.name == CURSOR_NAME)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if cursor is None:
        cursor = EventCursor(name=CURSOR_NAME, last_id=0)
        session.add(cursor)
        session.flush()
    return cursor


def watch_once(database_url: str, events_url: str) -> tuple[int, list[Urgent]]:
    """Handles the events stored in Rasa's SQL broker since the last call.

    Returns:
        How many events were read, and the people who need emergency guidance.
    """
    with get_engine(events_url).connect() as events:
        factory = get_session_factory(database_url)
        with factory.begin() as session:
            cursor = _cursor(session)
            rows = events.execute(
                select(rasa_events.c.id, rasa_events.c.sender_id, rasa_events.c.data)
                .where(rasa_events.c.id > cursor.last_id)
                .order_by(rasa_events.c.id)
                .limit(BATCH)
            ).all()
            decoded = []
            for row in rows:
                event = decode(row.data)
                if event is not None:
                    decoded.append({**event, "sender_id": row.sender_id})
            urgent = apply_events(session, decoded)
            if rows:
                cursor.last_id = rows[-1].id
    return len(rows), urgent


@dataclass
class SqlEvents:
    """Rasa's SQL event broker, read from the stored cursor."""

    database_url: str
    events_url: str

    def read(self) -> tuple[int, list[Urgent]]:
        return watch_once(self.database_url, self.events_url)

    def close(self) -> None:
        pass
