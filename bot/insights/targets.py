"""How many handoffs got a human's first reply within their target.

For the handoffs opened in a period: a ticket a human answered is within its
target when the opening hours between its opening and the first reply are no
more than its priority's first-reply target (bot/handoff/sla.py); a ticket
nobody answered counts as missed once its clock is past the target (at its
closing, or now), and is left out while it still has time. Replies after a
person wrote again are counted by the breaches recorded (bot/handoff/
breaches.py). The overview and the post-crisis report show the shares by
priority and by the hour the handoffs opened.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.handoff import sla
from bot.handoff.breaches import Breach
from bot.handoff.hours import TeamHours
from bot.handoff.models import PRIORITIES, Ticket
from bot.profile import ResponseTargets


@dataclass
class Shares:
    """Handoffs within / past their first-reply target."""

    within: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    missed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # The hour a handoff opened -> (within, missed).
    per_hour: dict[datetime, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    next_missed: int = 0  # replies after the person wrote again, late

    def share(self, priority: str | None = None) -> float | None:
        """Within target, as a share of those decided (None: none yet)."""
        keys = [priority] if priority else list(PRIORITIES)
        within = sum(self.within[k] for k in keys)
        decided = within + sum(self.missed[k] for k in keys)
        return within / decided if decided else None


def shares(
    session: Session,
    start: datetime,
    end: datetime,
    now: datetime,
    targets: ResponseTargets,
    hours: TeamHours,
) -> Shares:
    result = Shares()
    tickets = session.execute(
        select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end)
    ).scalars()
    for ticket in tickets:
        allowed = timedelta(minutes=targets.first.get(ticket.priority, 60))
        if ticket.first_reply_at is not None:
            late = sla.working_time(ticket.created_at, ticket.first_reply_at, hours)
            ok = late <= allowed
        else:
            until = min(now, ticket.closed_at or now)
            if sla.working_time(ticket.created_at, until, hours) <= allowed:
                continue  # still has time: not decided yet
            ok = False
        (result.within if ok else result.missed)[ticket.priority] += 1
        hour = ticket.created_at.replace(minute=0, second=0, microsecond=0)
        result.per_hour[hour][0 if ok else 1] += 1
    result.next_missed = session.execute(
        select(func.count(Breach.id)).where(
            Breach.kind == sla.NEXT,
            Breach.detected_at >= start,
            Breach.detected_at < end,
        )
    ).scalar_one()
    return result
