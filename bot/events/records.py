"""What Rasa's events change: open tickets kept current, paused conversations included.

A paused Rasa records what the person writes but runs no action, so nothing
in the action server sees a person who, while waiting, writes "my son is
vomiting now". Rasa stores every event in its tracker store (and publishes
it to its event broker, when it has one), and this watcher, run by the
console, reads what is new from wherever RELAIS_EVENTS_URL points:

- `sqlite://` or `postgresql://`: the `events` table of Rasa's SQL tracker
  store (`make run`'s endpoints.yml) or SQL event broker, read from a stored
  cursor;
- `amqp://`: Rasa's Pika broker on RabbitMQ (`make run-scaled`), consumed
  from a durable queue (bot/events/rabbit.py).

For each event:

- every user message of a conversation with an open ticket becomes the
  ticket's last message (the queue shows it at once); after a human's reply,
  the first one starts the next-response clock (bot/handoff/sla.py);
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.handoff.queue import more_urgent, open_ticket_for
from bot.insights import facts
from bot.nlu.triggers import EMERGENCY_RESPONSES, REASON_PRIORITIES, URGENT

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class Urgent:
    """A person to send emergency guidance to, after the batch committed."""

    conversation_id: str
    reason: str
    language: str


def _when(event: dict[str, Any]) -> datetime:
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float):
        return datetime.fromtimestamp(stamp, tz=timezone.utc)
    return utcnow()


def _apply(session: Session, sender: str, event: dict[str, Any]) -> Urgent | None:
    """Updates the conversation's open ticket from one user message."""
    ticket = open_ticket_for(session=session, conversation_id=sender, for_update=True)
    if ticket is None:
        return None
    text = str(event.get("text") or "")
    if text:
        ticket.last_message = text
    replied = ticket.last_reply_at or ticket.first_reply_at
    at = _when(event)
    if replied is not None and ticket.waiting_since is None and at > replied:
        # A human has replied and the person writes again: the next-response
        # clock starts (bot/handoff/sla.py); the next reply stops it.
        ticket.waiting_since = at
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
