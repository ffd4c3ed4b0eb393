"""Where the Rasa process keeps conversations: Rasa's SQL tracker store and
SQL event broker, with their known costs fixed once.

`endpoints.yml` names these classes (`type: bot.stores.TrackerStore`,
`type: bot.stores.EventBroker`); they take the same settings as Rasa's `SQL`
types, store the same rows in the same tables, and work on SQLite and
PostgreSQL alike. What Rasa 3.6 does, per message, and what changes:

- Before saving a tracker, Rasa reads the whole conversation back from the
  database and rebuilds a tracker from it, only to find which events are new;
  saving then counts the stored events again (an ORM query built anew each
  time). Here the new events are found from what the process holds of the
  conversation (below), or else by one count, a statement written once.
- To answer a message Rasa reads the conversation's latest session from the
  database and parses every event again, so a message cost more the longer
  its conversation. Here the process holds the latest session of its recent
  conversations and reads only what another process stored since.
- The event broker commits each event in its own transaction (about ten per
  message); here the new events of one save go in one transaction.
- Both insert through the ORM one object at a time; here through one
  multi-row insert.
- Rasa saves on its event loop: while a commit waits for the disk, nobody's
  message is handled. Here the saves run on a writer thread of their own
  (one, so they never compete for SQLite's single writer), and the events
  are published to the broker once stored.
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

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker as RasaEventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
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
# The id of a conversation's last stored event: whether what this process
# holds of it is still all there is.
_LAST_ID = sa.text("SELECT max(id) FROM events WHERE sender_id = :sender_id")
# Conversations whose latest session this process keeps in memory.
HELD_CONVERSATIONS = 1_000


def latest_session(events: list[Event]) -> list[Event]:
    """The events Rasa reads to answer: from the latest session start on (by
    timestamp, as Rasa's query selects them), or all of them before any."""
    starts = [event.timestamp for event in events if isinstance(event, SessionStarted)]
    if not starts:
        return events
    start = max(starts)
    return [event for event in events if event.timestamp >= start]


@dataclass
class _Held:
    """What this process holds of a conversation: its latest session as
    stored, up to the row `last_id`."""

    last_id: int
    events: list[Event]


class TrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store (same `events` table, same rows), saving a
    conversation with one count, one multi-row insert and one commit, and
    publishing its new events to the broker as one batch.

    Rasa reads a conversation's whole latest session back from the database,
    parses every event's JSON and rebuilds it on each message, so a message
    cost more the longer its conversation (issue 29). Here the process keeps
    the latest session of its recent conversations as events: a read checks
    the conversation's last row id (one indexed lookup), and reads only the
    rows stored since, by another process, or all of it when rows went away
    (a purge) or a new session started. The events are rebuilt into a new
    tracker each time, so whoever changes a tracker never changes the held
    conversation.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine: Engine = pooled_engine(self.engine)
        self.sessionmaker = sessionmaker(bind=self.engine)
        self._held: OrderedDict[str, _Held] = OrderedDict()
        # Saves wait for the disk here (a commit is flushed to it), not on
        # the event loop, which meanwhile handles other people's messages;
        # one thread, so saves do not compete for SQLite's single writer.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="tracker-store")

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's latest session, as Rasa's `retrieve` returns it."""
        with self.session_scope() as session:
            last_id = session.execute(_LAST_ID, {"sender_id": sender_id}).scalar()
            events = (
                self._read(session, sender_id, last_id) if last_id is not None else []
            )
        if not events or not self.domain:
            self._held.pop(sender_id, None)
            return None
        self._hold(sender_id, _Held(int(last_id), events))
        return DialogueStateTracker.from_events(
            sender_id, list(events), self.domain.slots
        )

    def _read(self, session: Any, sender_id: str, last_id: int) -> list[Event]:
        held = self._held.get(sender_id)
        if held is not None and held.last_id == last_id:
            return held.events
        if held is not None and held.last_id < last_id:
            rows = session.execute(
                sa.select(self.SQLEvent.type_name, self.SQLEvent.data)
                .where(
                    self.SQLEvent.sender_id == sender_id,
                    self.SQLEvent.id > held.last_id,
                )
                .order_by(self.SQLEvent.id)
            ).all()
            if not any(row.type_name == SessionStarted.type_name for row in rows):
                newer = deserialise_events([json.loads(row.data) for row in rows])
                return latest_session([*held.events, *newer])
        rows = self._event_query(
            session, sender_id, fetch_events_from_all_sessions=False
        ).with_entities(self.SQLEvent.data)
        return deserialise_events([json.loads(row.data) for row in rows])

    def _hold(self, sender_id: str, held: _Held) -> None:
        self._held[sender_id] = held
        self._held.move_to_end(sender_id)
        while len(self._held) > HELD_CONVERSATIONS:
            self._held.popitem(last=False)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the conversation's new events on the writer thread, then
        publishes them to the broker (when there is one)."""
        sender_id = tracker.sender_id
        held = self._held.pop(sender_id, None)
        events = list(tracker.events)
        loop = asyncio.get_running_loop()
        new_events, held = await loop.run_in_executor(
            self._writer, self._write, sender_id, events, held
        )
        if held is not None:
            self._hold(sender_id, held)
        self._publish(sender_id, new_events)

    def _write(
        self, sender_id: str, events: list[Event], held: _Held | None
    ) -> tuple[list[Event], _Held | None]:
        """Stores what `events` adds to the stored conversation, in one
        transaction; returns the new events and what to hold of the
        conversation now (None when unknown)."""
        with self.session_scope() as session:
            last_id = session.execute(_LAST_ID, {"sender_id": sender_id}).scalar()
            if last_id is None:  # a new conversation: all of it is here
                held, stored = _Held(0, []), 0
            elif held is not None and held.last_id == last_id:
                stored = len(held.events)
            else:
                held = None
                stored = session.execute(
                    _STORED_IN_SESSION, {"sender_id": sender_id}
                ).scalar_one()
            new_events = events[stored:]
            if not new_events:
                return [], held
            rows = []
            for event in new_events:
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": sender_id,
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
            last_id = session.execute(_LAST_ID, {"sender_id": sender_id}).scalar()
            session.commit()
        if held is None:
            return new_events, None
        latest = latest_session([*held.events, *new_events])
        return new_events, _Held(int(last_id), latest)

    def _publish(self, sender_id: str, events: list[Event]) -> None:
        """Publishes stored events (Rasa publishes just before storing):
        whoever reads the broker finds them in the tracker store."""
        broker: RasaEventBroker | None = self.event_broker
        if broker is None or not events:
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
