"""Retention: what `relais purge --older-than 90d` removes, and what it keeps.

Removed, when older than the retention period:
- Rasa's conversations (tracker store): every event of a conversation whose
  last event is older; a conversation still going on is kept whole;
- Rasa's event broker table: events the console's watcher has already read;
- message facts (the texts behind the figures and the gaps);
- suggestions learned from people's questions;
- tickets' transcripts, last messages and internal notes (the ticket keeps
  its times, reason and priority, under an anonymous conversation id);
- the conversation ids in the audit of answers sent (which answer version
  went out, and when, stays) and in the record of corrections sent (each
  person's outcome stays, under an anonymous id);
- the phrasings kept with spike alerts (their one-line label stays);
- subscriptions to news (and "stop"s) made before the period by people who
  have written nothing since;
- the comments people left after a handoff, and their conversation ids (the
  rating, agent, reason and channel stay).

Kept: the 5-minute buckets, the tickets' times, statement versions, answer
versions, publishes, switches and spike alerts: every figure of the report.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.corrections.sending import CorrectionSend
from bot.corrections.subscriptions import Subscription
from bot.db import get_engine
from bot.events.sql import CURSOR_NAME, EventCursor, rasa_events
from bot.faq.audit import AnswerSent
from bot.faq.suggestions import Suggestion
from bot.handoff.models import OPEN_STATUSES, Ticket, TicketNote
from bot.handoff.satisfaction import Survey
from bot.insights.generator import tracker_events
from bot.insights.models import GapSpike, MessageFact

DURATION = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")
UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MINIMUM = timedelta(hours=1)
CHUNK = 5000
PURGED_PREFIX = "purged-"


class PurgeError(ValueError):
    """A purge that cannot run; the message says why."""


def retention(text: str) -> timedelta:
    """`90d`, `12w` or `48h` as a duration (at least an hour)."""
    match = DURATION.match(text)
    if not match:
        raise PurgeError(f"“{text}” is not a duration: write 90d, 12w or 48h.")
    period = int(match.group(1)) * UNITS[match.group(2)]
    if period < MINIMUM:
        raise PurgeError("Keep at least an hour: --older-than 1h or more.")
    return period


@dataclass
class Removed:
    """What a purge removed, per kind."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, count: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + max(0, count)

    def lines(self) -> list[str]:
        return [f"{count:>9}  {what}" for what, count in self.counts.items()]


def purge_relais(session: Session, cutoff: datetime, removed: Removed) -> None:
    """Relais' own database, in the caller's transaction."""
    removed.add(
        "message facts",
        session.execute(delete(MessageFact).where(MessageFact.at < cutoff)).rowcount,
    )
    removed.add(
        "suggestions",
        session.execute(
            delete(Suggestion).where(Suggestion.last_seen < cutoff)
        ).rowcount,
    )
    old_tickets = select(Ticket.id).where(
        Ticket.status.notin_(OPEN_STATUSES),
        func.coalesce(Ticket.closed_at, Ticket.updated_at) < cutoff,
        Ticket.conversation_id.notlike(f"{PURGED_PREFIX}%"),
    )
    ids = [row[0] for row in session.execute(old_tickets)]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        removed.add(
            "ticket notes",
            session.execute(
                delete(TicketNote).where(TicketNote.ticket_id.in_(chunk))
            ).rowcount,
        )
        session.execute(
            update(Ticket)
            .where(Ticket.id.in_(chunk))
            .values(
                transcript="[]",
                last_message="",
                conversation_id=PURGED_PREFIX + sa.cast(Ticket.id, sa.String),
            )
        )
    removed.add("ticket transcripts", len(ids))
    removed.add(
        "answer audit conversation ids",
        session.execute(
            update(AnswerSent)
            .where(AnswerSent.sent_at < cutoff, AnswerSent.conversation_id != "")
            .values(conversation_id="")
        ).rowcount,
    )
    sent = session.execute(
        select(CorrectionSend).where(
            CorrectionSend.at < cutoff,
            CorrectionSend.conversation_id.notlike(f"{PURGED_PREFIX}%"),
        )
    ).scalars()
    for row in sent:
        row.conversation_id = PURGED_PREFIX + uuid.uuid4().hex
        removed.add("correction recipients' conversation ids", 1)
    # After the old messages are gone: whoever has one left wrote since.
    wrote_since = select(MessageFact.conversation_id).where(MessageFact.at >= cutoff)
    removed.add(
        "subscriptions to news",
        session.execute(
            delete(Subscription)
            .where(
                Subscription.created_at < cutoff,
                Subscription.conversation_id.notin_(wrote_since),
            )
            .execution_options(synchronize_session=False)
        ).rowcount,
    )
    removed.add(
        "satisfaction comments and conversation ids",
        session.execute(
            update(Survey)
            .where(
                Survey.asked_at < cutoff,
                Survey.conversation_id.notlike(f"{PURGED_PREFIX}%"),
            )
            .values(
                comment=None,
                conversation_id=PURGED_PREFIX + sa.cast(Survey.id, sa.String),
            )
            .execution_options(synchronize_session=False)
        ).rowcount,
    )
    spikes = session.execute(
        select(GapSpike).where(GapSpike.detected_at < cutoff)
    ).scalars()
    for spike in spikes:
        if spike.examples or spike.phrasings:
            spike.examples, spike.phrasings = [], []
            removed.add("spike phrasings", 1)


def purge_tracker_store(
    tracker_url: str, cutoff: datetime, removed: Removed, dry_run: bool = False
) -> None:
    """Rasa's conversations whose last event is older than `cutoff`."""
    engine = get_engine(tracker_url)
    if not sa.inspect(engine).has_table(tracker_events.name):
        return  # Rasa never stored a conversation there
    stale = (
        select(tracker_events.c.sender_id)
        .group_by(tracker_events.c.sender_id)
        .having(func.max(tracker_events.c.timestamp) < cutoff.timestamp())
    )
    with engine.begin() as connection:
        senders = [row[0] for row in connection.execute(stale)]
        for start in range(0, len(senders), CHUNK):
            chunk = senders[start : start + CHUNK]
            which = tracker_events.c.sender_id.in_(chunk)
            removed.add(
                "Rasa conversation events",
                connection.execute(select(func.count()).where(which)).scalar_one()
                if dry_run
                else connection.execute(delete(tracker_events).where(which)).rowcount,
            )
        removed.add("Rasa conversations", len(senders))


def purge_broker(
    session: Session,
    events_url: str,
    cutoff: datetime,
    removed: Removed,
    dry_run: bool = False,
) -> None:
    """Rasa's SQL event broker table: events older than `cutoff` that the
    console's watcher has read (never one it has not)."""
    cursor = session.get(EventCursor, CURSOR_NAME)
    read_up_to = cursor.last_id if cursor else 0
    engine = get_engine(events_url)
    if not sa.inspect(engine).has_table(rasa_events.name):
        return  # Rasa never published an event there
    with engine.begin() as connection:
        last_old, after = 0, 0
        while True:
            rows = connection.execute(
                select(rasa_events.c.id, rasa_events.c.data)
                .where(rasa_events.c.id > after, rasa_events.c.id <= read_up_to)
                .order_by(rasa_events.c.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            newer = False
            for event_id, data in rows:
                try:
                    stamp = float(json.loads(data or "{}").get("timestamp") or 0)
                except (TypeError, ValueError):
                    stamp = 0.0
                if stamp >= cutoff.timestamp():
                    newer = True
                    break
                last_old = event_id
            if newer:
                break
            after = rows[-1][0]
        if last_old:
            old = rasa_events.c.id <= last_old
            removed.add(
                "Rasa broker events",
                connection.execute(select(func.count()).where(old)).scalar_one()
                if dry_run
                else connection.execute(delete(rasa_events).where(old)).rowcount,
            )
