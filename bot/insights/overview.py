"""The figures of a period, for the overview page and the report.

Message figures come from the 5-minute buckets (models.StatBucket), which a
purge keeps; ticket figures (handoffs, waits, handling, queue length) come
from the handoff queue's tickets, whose personal content a purge removes but
whose times it keeps. Reading a day is a few thousand rows whatever the
number of events behind it (docs/benchmarks.md).

Definitions:
- conversations: conversations that started in the period;
- deflection: share of those the bot handled without a human,
  1 - handoffs / conversations (a conversation handed over twice counts
  twice);
- "did you mean" rate: share of messages answered with "did you mean"
  buttons;
- time to a human: from the handoff to a human's first reply; handling:
  from the claim to the close;
- negative share: messages scored negative or angry (bot/insights/sentiment.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.handoff.models import Ticket
from bot.insights.facts import bucket_start
from bot.insights.models import (
    ANSWERED,
    BUCKET_MINUTES,
    DECLINED,
    DID_YOU_MEAN,
    HANDOFF,
    HUMAN,
    NO_REPLY,
    OUT_OF_SCOPE,
    SMALL_TALK,
    StatBucket,
)

STEP = timedelta(minutes=BUCKET_MINUTES)
HOUR = timedelta(hours=1)
# How the outcomes are grouped on the charts.
OUTCOME_GROUPS = {
    "answered": (ANSWERED, SMALL_TALK),
    "did_you_mean": (DID_YOU_MEAN,),
    "declined": (DECLINED, OUT_OF_SCOPE, NO_REPLY),
    "humans": (HANDOFF, HUMAN),
}


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of some durations, in seconds."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        if not seconds:
            return cls(0, None, None)
        ordered = sorted(seconds)
        # Nearest-rank 90th percentile: a value someone actually waited.
        rank = max(0, -(-9 * len(ordered) // 10) - 1)
        return cls(len(ordered), float(median(ordered)), float(ordered[rank]))


@dataclass
class Figures:
    """Everything the overview shows for [start, end)."""

    start: datetime
    end: datetime
    messages: int = 0
    conversations: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)
    negative: int = 0
    angry: int = 0
    # Per 5 minutes: messages, conversations writing; per hour: messages by
    # outcome group, conversations started, negative share.
    per_5min: list[tuple[datetime, int, int]] = field(default_factory=list)
    per_hour: list[tuple[datetime, dict[str, int], int, float | None]] = field(
        default_factory=list
    )
    handoffs: Counter[str] = field(default_factory=Counter)
    priorities: Counter[str] = field(default_factory=Counter)
    to_human: Spread = Spread(0, None, None)
    handling: Spread = Spread(0, None, None)
    # Waiting tickets at the end of each 5 minutes.
    queue: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def deflection(self) -> float | None:
        if not self.conversations:
            return None
        return max(0.0, 1 - self.outcomes[HANDOFF] / self.conversations)

    @property
    def did_you_mean_rate(self) -> float | None:
        return self.outcomes[DID_YOU_MEAN] / self.messages if self.messages else None

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.messages if self.messages else None

    @property
    def angry_share(self) -> float | None:
        return self.angry / self.messages if self.messages else None


def _steps(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    times, at = [], start
    while at < end:
        times.append(at)
        at += step
    return times


def _hour_start(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def message_figures(session: Session, figures: Figures) -> None:
    """Fills the message figures of `figures` from the 5-minute buckets.

    The database adds the buckets up (three grouped queries): a day is a few
    hundred rows back, whatever the traffic."""
    b = StatBucket
    window = (b.start >= figures.start, b.start < figures.end)
    for outcome, language, topic, messages, started, negative, angry in session.execute(
        select(
            b.outcome,
            b.language,
            b.topic,
            func.sum(b.messages),
            func.sum(b.started),
            func.sum(b.negative),
            func.sum(b.angry),
        )
        .where(*window)
        .group_by(b.outcome, b.language, b.topic)
    ):
        figures.messages += messages
        figures.conversations += started
        figures.outcomes[outcome] += messages
        figures.languages[language] += messages
        if outcome == ANSWERED and topic:
            figures.topics[topic] += messages
        figures.negative += negative
        figures.angry += angry
    per_5min = {
        start: (messages, conversations)
        for start, messages, conversations in session.execute(
            select(b.start, func.sum(b.messages), func.sum(b.conversations))
            .where(*window)
            .group_by(b.start)
        )
    }
    figures.per_5min = [
        (at, *per_5min.get(at, (0, 0)))
        for at in _steps(bucket_start(figures.start), figures.end, STEP)
    ]
    per_hour: dict[datetime, Counter[str]] = defaultdict(Counter)
    for start, outcome, messages, started, negative in session.execute(
        select(
            b.start,
            b.outcome,
            func.sum(b.messages),
            func.sum(b.started),
            func.sum(b.negative),
        )
        .where(*window)
        .group_by(b.start, b.outcome)
    ):
        # Grouped functions return naive datetimes on SQLite: the column's
        # type is applied, so `start` is aware here.
        hour = per_hour[_hour_start(start)]
        for group, outcomes in OUTCOME_GROUPS.items():
            if outcome in outcomes:
                hour[group] += messages
        hour["started"] += started
        hour["negative"] += negative
        hour["messages"] += messages
    figures.per_hour = []
    for at in _steps(_hour_start(figures.start), figures.end, HOUR):
        hour = per_hour.get(at, Counter())
        share = hour["negative"] / hour["messages"] if hour["messages"] else None
        groups = {group: hour[group] for group in OUTCOME_GROUPS}
        figures.per_hour.append((at, groups, hour["started"], share))


def ticket_figures(session: Session, figures: Figures) -> None:
    """Fills handoffs, waits, handling and queue length from the tickets."""
    tickets = session.execute(
        select(
            Ticket.reason,
            Ticket.priority,
            Ticket.created_at,
            Ticket.claimed_at,
            Ticket.first_reply_at,
            Ticket.closed_at,
        ).where(
            Ticket.created_at < figures.end,
            or_(
                Ticket.created_at >= figures.start,
                Ticket.claimed_at.is_(None),
                Ticket.claimed_at >= figures.start,
            ),
        )
    ).all()
    to_human, handling = [], []
    changes: list[tuple[datetime, int]] = []
    for reason, priority, created, claimed, first_reply, closed in tickets:
        if created >= figures.start:
            figures.handoffs[reason] += 1
            figures.priorities[priority] += 1
            if first_reply is not None:
                to_human.append((first_reply - created).total_seconds())
            if claimed is not None and closed is not None:
                handling.append((closed - claimed).total_seconds())
        # Waiting from its creation until someone claims it (or it closes).
        left = min((t for t in (claimed, closed) if t is not None), default=None)
        changes.append((created, +1))
        if left is not None:
            changes.append((left, -1))
    figures.to_human = Spread.of(to_human)
    figures.handling = Spread.of(handling)
    changes.sort()
    waiting, index, queue = 0, 0, []
    for at in _steps(bucket_start(figures.start), figures.end, STEP):
        until = at + STEP
        while index < len(changes) and changes[index][0] < until:
            waiting += changes[index][1]
            index += 1
        queue.append((at, waiting))
    figures.queue = queue


def figures_for(session: Session, start: datetime, end: datetime) -> Figures:
    """All the overview's figures for [start, end)."""
    figures = Figures(start=start, end=end)
    message_figures(session, figures)
    ticket_figures(session, figures)
    return figures
