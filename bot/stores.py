"""Where the Rasa process keeps conversations: Rasa's SQL tracker store and
SQL event broker, with their known costs fixed once.

`endpoints.yml` names these classes (`type: bot.stores.TrackerStore`,
`type: bot.stores.EventBroker`); they take the same settings as Rasa's `SQL`
types, store the same rows in the same tables, and work on SQLite and
PostgreSQL alike. What Rasa 3.6 does, per message, and what changes:

- Before saving a tracker, Rasa reads the whole conversation back from the
  database and rebuilds a tracker from it, only to find which events are new;
  saving then counts the stored events again (an ORM query built anew each
  time). Here one count, a statement written once, finds the new events.
- The event broker commits each event in its own transaction (about ten per
  message); here the new events of one save go in one transaction.
- Both insert through the ORM one object at a time; here through one
  multi-row insert.
- On SQLite, every session opened a new connection, and a reader (the
  console's watcher) could make a writer wait on the file lock. Here
  connections are pooled and the databases use write-ahead logging, so
  readers and the writer no longer block each other; commits still wait for
  the disk (SQLite's default `synchronous=FULL`), so a message acknowledged
  is a message stored.

Measured in `make bench-surge` (docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker as RasaEventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

logger = logging.getLogger(__name__)


def _pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def pooled_engine(engine: Engine) -> Engine:
    """The same database, pooled and in write-ahead-log mode when SQLite;
    any other engine unchanged (Rasa already pools PostgreSQL's)."""
    if engine.dialect.name != "sqlite":
        return engine
    engine.dispose()
    tuned = sa.create_engine(
        engine.url,
        poolclass=sa.pool.QueuePool,
        pool_size=4,
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    sa.event.listen(tuned, "connect", _pragmas)
    return tuned


def _broker_bodies(sender_id: str, events: list[Event]) -> list[dict[str, Any]]:
    # What Rasa's TrackerStore._stream_new_events publishes for each event.
    return [{"sender_id": sender_id, **event.as_dict()} for event in events]


class EventBroker(SQLEventBroker):
    """Rasa's SQL event broker (same `events` table), one transaction per
    batch of events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine: Engine = pooled_engine(self.engine)
        self.sessionmaker = sessionmaker(bind=self.engine)

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Stores `events` in one transaction: all of them or none."""
        if not events:
            return
        rows = [
            {"sender_id": event.get("sender_id"), "data": json.dumps(event)}
            for event in events
        ]
        with self.engine.begin() as connection:
            connection.execute(sa.insert(self.SQLBrokerEvent.__table__), rows)


# How many events of the conversation's latest session are stored: what
# Rasa's `_additional_events` counts through the ORM (same rule: the events
# from the latest session start on, or all of them before any), as one
# statement written once.
_STORED_IN_SESSION = sa.text(
    "SELECT count(*) FROM events WHERE sender_id = :sender_id AND ("
    " NOT EXISTS (SELECT 1 FROM events WHERE sender_id = :sender_id"
    "  AND type_name = 'session_started')"
    " OR timestamp >= (SELECT max(timestamp) FROM events"
    "  WHERE sender_id = :sender_id AND type_name = 'session_started'))"
)


class TrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store (same `events` table, same rows), saving a
    conversation with one count, one multi-row insert and one commit, and
    publishing its new events to the broker as one batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine: Engine = pooled_engine(self.engine)
        self.sessionmaker = sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            stored = session.execute(
                _STORED_IN_SESSION, {"sender_id": tracker.sender_id}
            ).scalar_one()
            new_events = list(itertools.islice(tracker.events, stored, None))
            if not new_events:
                return
            self._publish(tracker.sender_id, new_events)
            rows = []
            for event in new_events:
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": (data.get("parse_data") or {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            session.execute(sa.insert(self.SQLEvent.__table__), rows)
            session.commit()

    def _publish(self, sender_id: str, events: list[Event]) -> None:
        """Publishes before storing, as Rasa does: an event the tracker store
        holds has been offered to the broker."""
        broker: RasaEventBroker | None = self.event_broker
        if broker is None:
            return
        bodies = _broker_bodies(sender_id, events)
        if isinstance(broker, EventBroker):
            broker.publish_many(bodies)
        else:
            for body in bodies:
                broker.publish(body)
