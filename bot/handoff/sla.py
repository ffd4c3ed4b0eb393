"""Response targets: how long a person may wait for a human, by priority.

Two clocks, each counted inside the team's opening hours only (a person who
writes at 23:00 to a team that opens at 08:00 is not late at 08:01):

- first response: from the handoff to a human's first message;
- next response: from the person's first message after a human's reply to
  the next reply (`Ticket.waiting_since`, set by the event watcher,
  bot/events/records.py, and cleared by a reply).

The targets are the crisis profile's (`response_targets:` in profile.yml,
bot/profile.py), by default 5 minutes for urgent, 15 for high and 60 for
normal, for both clocks. A clock past its target is a breach: the queue
shows the row in red, above the others of its priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.handoff.hours import TeamHours
from bot.handoff.models import ASSIGNED, WAITING, Ticket
from bot.profile import ResponseTargets

FIRST, NEXT = "first", "next"


def working_time(start: datetime, end: datetime, hours: TeamHours) -> timedelta:
    """The part of [start, end) inside the team's opening hours."""
    if end <= start:
        return timedelta(0)
    total = timedelta(0)
    zone = hours.timezone
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if day.weekday() in hours.days:
            opens = datetime.combine(day, hours.opens, tzinfo=zone)
            closes = datetime.combine(day, hours.closes, tzinfo=zone)
            if hours.closes <= hours.opens:  # "00:00-24:00" reads as 00:00-00:00
                closes = opens + timedelta(days=1)
            overlap = min(end, closes) - max(start, opens)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def deadline(start: datetime, target: timedelta, hours: TeamHours) -> datetime:
    """When `target` of opening hours will have passed since `start`."""
    zone = hours.timezone
    left = target
    day = start.astimezone(zone).date()
    for _ in range(366):
        if day.weekday() in hours.days:
            opens = datetime.combine(day, hours.opens, tzinfo=zone)
            closes = datetime.combine(day, hours.closes, tzinfo=zone)
            if hours.closes <= hours.opens:
                closes = opens + timedelta(days=1)
            begin = max(start, opens)
            if closes > begin:
                if begin + left <= closes:
                    return begin + left
                left -= closes - begin
        day += timedelta(days=1)
    raise ValueError("team hours have no working day")


@dataclass(frozen=True)
class Clock:
    """Where a ticket stands against its target."""

    kind: str  # FIRST or NEXT
    due_at: datetime
    left: timedelta  # of opening hours; negative once breached

    @property
    def breached(self) -> bool:
        return self.left < timedelta(0)


def started_at(ticket: Ticket, running: Clock) -> datetime:
    """When the ticket's running clock started."""
    since = ticket.created_at if running.kind == FIRST else ticket.waiting_since
    assert since is not None, "a next-reply clock runs from waiting_since"
    return since


def clock(
    ticket: Ticket, now: datetime, targets: ResponseTargets, hours: TeamHours
) -> Clock | None:
    """The running clock of an open ticket, or None (answered, nobody waiting)."""
    if ticket.status not in (WAITING, ASSIGNED):
        return None
    if ticket.first_reply_at is None:
        kind, since, target = FIRST, ticket.created_at, targets.first
    elif ticket.waiting_since is not None:
        kind, since, target = NEXT, ticket.waiting_since, targets.next
    else:
        return None
    allowed = timedelta(minutes=target[ticket.priority])
    used = working_time(since, now, hours)
    return Clock(kind, deadline(since, allowed, hours), allowed - used)
