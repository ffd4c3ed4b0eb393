"""Rasa's events from SQL: the `events` table of Rasa's SQL tracker store
(`make run`'s endpoints.yml) or of its SQL event broker, which share the
columns read here (id, sender_id, data), read from a stored cursor: the last
event handled is stored in `event_cursor`, so a restart neither skips nor
repeats events, and several consoles never handle one event twice (the cursor
row is locked while a batch is handled)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.db import Base, get_engine, get_session_factory
from bot.events.records import BATCH, Urgent, apply_events, decode

logger = logging.getLogger(__name__)

# One cursor per kind of table: ids of a broker's table and of the tracker
# store's are unrelated.
CURSOR_NAME = "rasa_events"  # Rasa's SQL event broker
TRACKER_CURSOR_NAME = "rasa_tracker_events"  # Rasa's SQL tracker store

# Rasa's `events` table, as its SQL tracker store and SQLEventBroker both
# have it (rasa/core/tracker_store.py, rasa/core/brokers/sql.py); Rasa
# creates it. Read by id, which follows the order events were stored in
# with one Rasa process (several publish to RabbitMQ).
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


def _cursor(session: Session, name: str) -> EventCursor | None:
    return session.execute(
        select(EventCursor)
        .where(EventCursor.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


# Events URL -> whether its table is a tracker store's: a table keeps its
# kind, so the watcher, which reads twice a second, asks once.
_kinds: dict[str, bool] = {}


def _is_tracker_store(events_url: str, events: Connection) -> bool:
    """Whether `events` holds Rasa's SQL tracker store table (it has the
    type of each event as a column) rather than its SQL broker's."""
    if events_url not in _kinds:
        columns = inspect(events).get_columns(rasa_events.name)
        _kinds[events_url] = any(c["name"] == "type_name" for c in columns)
    return _kinds[events_url]


def _start(session: Session, events: Connection, tracker_store: bool) -> EventCursor:
    """The cursor of this kind of table, made when first read. A console that
    read Rasa's SQL broker until now (Relais before it read the tracker store)
    starts at the tracker store's last event: the ones before it came through
    the broker already."""
    name = TRACKER_CURSOR_NAME if tracker_store else CURSOR_NAME
    cursor = _cursor(session, name)
    if cursor is not None:
        return cursor
    last_id = 0
    broker = _cursor(session, CURSOR_NAME) if tracker_store else None
    if broker is not None and broker.last_id:
        last_id = events.execute(select(func.max(rasa_events.c.id))).scalar() or 0
        logger.warning(
            "The console now reads Rasa's events from the tracker store, no "
            "longer from the SQL event broker: from event %d on.",
            last_id,
        )
    cursor = EventCursor(name=name, last_id=last_id)
    session.add(cursor)
    session.flush()
    return cursor


def watch_once(database_url: str, events_url: str) -> tuple[int, list[Urgent]]:
    """Handles the events Rasa stored since the last call.

    Returns:
        How many events were read, and the people who need emergency guidance.
    """
    with get_engine(events_url).connect() as events:
        factory = get_session_factory(database_url)
        with factory.begin() as session:
            cursor = _start(session, events, _is_tracker_store(events_url, events))
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
    """Rasa's events from SQL, read from the stored cursor."""

    database_url: str
    events_url: str

    def read(self) -> tuple[int, list[Urgent]]:
        return watch_once(self.database_url, self.events_url)

    def close(self) -> None:
        pass
