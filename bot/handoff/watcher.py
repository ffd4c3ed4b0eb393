"""Keeps open tickets current from Rasa's event stream, paused conversations included.

A paused Rasa records what the person writes but runs no action, so nothing
in the action server sees a person who, while waiting, writes "my son is
vomiting now". Rasa publishes every event to its event broker, and this
watcher, run by the console, reads what is new from wherever
RELAIS_EVENTS_URL points:

- `sqlite://` or `postgresql://`: Rasa's SQL broker (`make run`'s
  endpoints.yml, table `events`), read from a stored cursor;
- `amqp://`: Rasa's Pika broker on RabbitMQ (`make run-scaled`), consumed
  from a durable queue (bot/handoff/rabbit.py).

For each event:

- every user message of a conversation with an open ticket becomes the
  ticket's last message (the queue shows it at once);
- a message the EscalationDetector flagged raises the ticket's priority, and
  when it becomes urgent the person gets the emergency guidance right away,
  in their language, through Rasa's HTTP API;
- every user message, and what became of it, is recorded for the crisis
  figures (bot/insights/facts.py), in the same transaction.

From SQL, the last event handled is stored in `event_cursor`, so a restart
neither skips nor repeats events, and several consoles never handle one event
twice (the cursor row is locked while a batch is handled). From RabbitMQ, a
batch is acknowledged once its changes are committed: a console that dies
mid-batch leaves the events in the queue for the next one (handling an event
twice changes nothing: the ticket already shows the message and the
priority).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.db import Base, get_engine, get_session_factory
from bot.handoff.queue import more_urgent, open_ticket_for
from bot.handoff.triggers import EMERGENCY_RESPONSES, REASON_PRIORITIES, URGENT
from bot.insights import facts
from bot.profile import Profile
from bot.rasa_api import RasaClient, RasaError

logger = logging.getLogger(__name__)

BATCH = 500
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


@dataclass(frozen=True)
class Urgent:
    """A person to send emergency guidance to, after the batch committed."""

    conversation_id: str
    reason: str
    language: str


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


def _apply(session: Session, sender: str, event: dict[str, Any]) -> Urgent | None:
    """Updates the conversation's open ticket from one user message."""
    ticket = open_ticket_for(session=session, conversation_id=sender, for_update=True)
    if ticket is None:
        return None
    text = str(event.get("text") or "")
    if text:
        ticket.last_message = text
    escalation = (event.get("parse_data") or {}).get("escalation") or {}
    reason = escalation.get("reason")
    if reason not in REASON_PRIORITIES:
        return None
    priority = REASON_PRIORITIES[reason]
    was = ticket.priority
    if more_urgent(was, priority) != was:
        ticket.priority = priority
        ticket.reason = reason
        logger.warning(
            "Ticket %s raised from %s to %s (%s) while waiting",
            ticket.id, was, priority, reason,
        )  # fmt: skip
        if priority == URGENT and reason in EMERGENCY_RESPONSES:
            return Urgent(sender, reason, ticket.language)
    return None


def decode(data: str | bytes | None) -> dict[str, Any] | None:
    """One published event, or None when it is not a JSON object."""
    try:
        event = json.loads(data or b"")
    except (TypeError, ValueError):
        return None
    return event if isinstance(event, dict) else None


def apply_events(session: Session, events: Iterable[dict[str, Any]]) -> list[Urgent]:
    """Updates open tickets from the user messages among `events` (as Rasa's
    brokers publish them: each event with its `sender_id`), and records every
    message for the crisis figures (bot/insights/facts.py)."""
    events = list(events)
    urgent = []
    for event in events:
        sender = event.get("sender_id")
        if event.get("event") == "user" and isinstance(sender, str) and sender:
            found = _apply(session, sender, event)
            if found is not None:
                urgent.append(found)
    facts.record(session, events)
    return urgent


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


class EventSource(Protocol):
    """Where the watcher reads Rasa's events from."""

    def read(self) -> tuple[int, list[Urgent]]: ...

    def close(self) -> None: ...


@dataclass
class SqlEvents:
    """Rasa's SQL event broker, read from the stored cursor."""

    database_url: str
    events_url: str

    def read(self) -> tuple[int, list[Urgent]]:
        return watch_once(self.database_url, self.events_url)

    def close(self) -> None:
        pass


def event_source(database_url: str, events_url: str, queue: str) -> EventSource:
    """The source RELAIS_EVENTS_URL names: RabbitMQ (`amqp://`) or SQL."""
    if events_url.startswith(("amqp://", "amqps://")):
        from bot.handoff.rabbit import RabbitEvents  # aio-pika only when used

        return RabbitEvents(database_url, events_url, queue)
    return SqlEvents(database_url, events_url)


def send_guidance(rasa: RasaClient, people: list[Urgent], profile: Profile) -> None:
    """The crisis profile's emergency guidance into each person's chat, in
    their language."""
    for person in people:
        text = profile.emergency(person.reason, person.language)
        rasa.append_events(
            person.conversation_id,
            [{"event": "bot", "text": text, "timestamp": time.time()}],
        )


def run_forever(
    source: EventSource,
    rasa: RasaClient,
    stop: threading.Event,
    profile: Profile,
    interval: float = 0.5,
) -> None:
    """Watches until `stop` is set; survives any one failure.

    Emergency guidance that could not be sent (Rasa restarting) is retried on
    the next round rather than dropped.
    """
    pending: list[Urgent] = []
    try:
        while not stop.is_set():
            count = 0
            try:
                count, urgent = source.read()
                pending += urgent
                send_guidance(rasa, pending, profile)
                pending = []
            except (SQLAlchemyError, RasaError, ConnectionError, OSError) as error:
                # Rasa or RabbitMQ not started yet, or a database blip: try
                # again shortly.
                logger.info("Event watcher waiting: %s", error)
            except Exception:
                logger.exception("Event watcher failed; going on")
            if count < BATCH:
                stop.wait(interval)
    finally:
        source.close()
