"""A response target missed: recorded once, and the admins told.

The console checks the open conversations every `INTERVAL` (bot/console/
app.py runs `run_forever` beside it). A clock past its target
(bot/handoff/sla.py) is recorded once per clock (the ticket, first or next
reply, and when that clock started), posted to the team's chat webhook
(RELAIS_ALERT_WEBHOOK_URL, bot/alerts.py) and shown to admins above every
console page while the conversation is still waiting (bot/console/pages.py).
The records are the report's and the overview's breaches too.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Index, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import alerts
from bot.db import Base, UTCDateTime, get_session_factory, utcnow
from bot.handoff import sla
from bot.handoff.hours import TeamHours
from bot.handoff.models import OPEN_STATUSES, Ticket
from bot.profile import ResponseTargets

logger = logging.getLogger(__name__)

INTERVAL = timedelta(seconds=30)


class Breach(Base):
    """One clock past its target."""

    __tablename__ = "sla_breach"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, nullable=False)
    kind = Column(String(8), nullable=False)  # sla.FIRST or sla.NEXT
    priority = Column(String(16), nullable=False)
    started_at = Column(UTCDateTime, nullable=False)  # when that clock started
    due_at = Column(UTCDateTime, nullable=False)
    detected_at = Column(UTCDateTime, nullable=False, default=utcnow)
    notified_at = Column(UTCDateTime)
    notify_error = Column(Text)

    __table_args__ = (
        Index("uq_sla_breach_clock", "ticket_id", "kind", "started_at", unique=True),
    )


@dataclass(frozen=True)
class Late:
    """An open conversation past its target, as the banner shows it."""

    ticket_id: int
    priority: str
    kind: str
    late: timedelta


def _late_clocks(
    session: Session, now: datetime, targets: ResponseTargets, hours: TeamHours
) -> list[tuple[Ticket, sla.Clock]]:
    """The open tickets whose clock is past its target now."""
    late = []
    for ticket in session.execute(
        select(Ticket).where(Ticket.status.in_(OPEN_STATUSES))
    ).scalars():
        running = sla.clock(ticket, now, targets, hours)
        if running is not None and running.breached:
            late.append((ticket, running))
    return late


def late_now(
    session: Session, now: datetime, targets: ResponseTargets, hours: TeamHours
) -> list[Late]:
    """The open conversations past their target now, the latest first."""
    found = [
        Late(ticket.id, ticket.priority, running.kind, -running.left)
        for ticket, running in _late_clocks(session, now, targets, hours)
    ]
    return sorted(found, key=lambda late: -late.late)


def check(
    session: Session, now: datetime, targets: ResponseTargets, hours: TeamHours
) -> list[Breach]:
    """Records the clocks that went past their target since the last check."""
    late = [
        (ticket, running, sla.started_at(ticket, running))
        for ticket, running in _late_clocks(session, now, targets, hours)
    ]
    if not late:
        return []
    known = {
        (ticket_id, kind, started)
        for ticket_id, kind, started in session.execute(
            select(Breach.ticket_id, Breach.kind, Breach.started_at).where(
                Breach.ticket_id.in_([ticket.id for ticket, _, _ in late])
            )
        )
    }
    new = []
    for ticket, running, started in late:
        if (ticket.id, running.kind, started) in known:
            continue
        breach = Breach(
            ticket_id=ticket.id, kind=running.kind, priority=ticket.priority,
            started_at=started, due_at=running.due_at, detected_at=now,
        )  # fmt: skip
        try:
            with session.begin_nested():
                session.add(breach)
        except IntegrityError:  # another console recorded it at the same moment
            continue
        new.append(breach)
    return new


def message(breach: Breach, now: datetime, console_url: str) -> dict[str, str]:
    """The alert as a Slack incoming-webhook message."""
    late = max(0, int((now - breach.due_at).total_seconds() // 60))
    what = "a first reply" if breach.kind == sla.FIRST else "a reply"
    return {
        "text": (
            f"Relais: conversation {breach.ticket_id} ({breach.priority}) is "
            f"waiting for {what} past its target ({late} min late). "
            f"{console_url}/tickets/{breach.ticket_id}"
        )
    }


def check_and_notify(
    database_url: str,
    targets: ResponseTargets,
    hours: TeamHours,
    webhook_url: str | None,
    console_url: str,
    now: datetime | None = None,
) -> list[Breach]:
    """One round: new breaches recorded, then posted (outside the transaction)."""
    now = now or utcnow()
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        new = check(session, now, targets, hours)
        session.flush()
        for breach in new:
            session.expunge(breach)
    for breach in new:
        logger.warning(
            "Conversation %s (%s) past its %s-reply target",
            breach.ticket_id, breach.priority, breach.kind,
        )  # fmt: skip
        if not webhook_url:
            continue
        error = alerts.post(webhook_url, message(breach, now, console_url))
        with factory.begin() as session:
            row = session.get(Breach, breach.id)
            if row is not None:
                row.notified_at = None if error else utcnow()
                row.notify_error = error
    return new


def run_forever(
    database_url: str,
    targets: ResponseTargets,
    hours: TeamHours,
    webhook_url: str | None,
    console_url: str,
    stop: threading.Event,
) -> None:
    """Checks every INTERVAL until `stop` is set; survives failures."""
    while not stop.is_set():
        try:
            check_and_notify(database_url, targets, hours, webhook_url, console_url)
        except Exception:
            logger.exception("Response-target check failed; trying again")
        stop.wait(INTERVAL.total_seconds())
