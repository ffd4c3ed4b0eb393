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

With several Rasa processes, Rasa's Redis lock store makes the messages of
one conversation take turns, but Rasa 3.6 changes a lock by reading it,
changing it in Python and writing it back: two processes issuing a ticket at
the same moment both get the same number, handle the conversation at once,
and one tracker's events overwrite the other's (Rasa issue 9213; the fix
went to Rasa Pro only). `LockStore` (`type: bot.stores.LockStore`) is Rasa's
Redis lock store with every change made in a Redis transaction (WATCH/MULTI,
retried when another process changed the lock meanwhile), and waiting turns
checked every 0.05 s instead of every second.

Measured in `make bench-surge` (docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker as RasaEventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.utils.endpoints import EndpointConfig
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


# How often a message waiting for its conversation's turn looks again.
LOCK_WAIT_SECONDS = 0.05


class LockStore(RedisLockStore):
    """Rasa's Redis lock store (same settings, same keys), changing a lock
    atomically so that two Rasa processes never hold one conversation."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: Callable[[TicketLock], Any]) -> Any:
        """Runs `change` on the stored lock (a new one if none) in one Redis
        transaction, retried from the start if another process changed the
        lock meanwhile; stores the lock it leaves, or deletes it when it holds
        no ticket any more. Returns what `change` returned."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> Any:
            stored = pipe.get(key)
            lock = (
                TicketLock.from_dict(json.loads(stored))
                if stored
                else self.create_lock(conversation_id)
            )
            result = change(lock)
            pipe.multi()
            if lock.is_someone_waiting():
                pipe.set(key, lock.dumps())
            else:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME
    ) -> int:
        try:
            number: int = self._change(
                conversation_id, lambda lock: lock.issue_ticket(lock_lifetime)
            )
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        return number

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, TicketLock.remove_expired_tickets)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(
            conversation_id, lambda lock: lock.remove_ticket_for(ticket_number)
        )

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # One transaction: the lock goes only when nobody else holds a ticket.
        self.finish_serving(conversation_id, ticket_number)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = LOCK_WAIT_SECONDS,
    ) -> AsyncGenerator[TicketLock, None]:
        # Rasa calls lock(conversation_id) alone: this default applies.
        async with super().lock(
            conversation_id, lock_lifetime, wait_time_in_seconds
        ) as lock:
            yield lock
