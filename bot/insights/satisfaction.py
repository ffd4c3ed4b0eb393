"""Satisfaction after handoffs, for the overview and the post-crisis report.

Counts the questions asked in a period (bot/handoff/satisfaction.py): how
many people answered, the share satisfied (4 or 5 out of 5, or a thumb up)
and the average out of 5, overall and per agent, reason and channel, and
the latest comments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff.satisfaction import STARS, Survey
from bot.handoff.window import CHANNEL_NAMES
from bot.insights.labels import label, percent

COMMENTS = 10


@dataclass
class Tally:
    asked: int = 0
    answered: int = 0
    satisfied: int = 0
    stars: int = 0  # the sum of the ratings on the 1-to-5 scale
    rated_in_stars: int = 0

    def add(self, survey: Survey) -> None:
        self.asked += 1
        if survey.rating is None:
            return
        self.answered += 1
        self.satisfied += bool(survey.satisfied)
        if survey.scale == STARS:
            self.stars += survey.rating
            self.rated_in_stars += 1

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.answered if self.answered else None

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None

    @property
    def average(self) -> float | None:
        return self.stars / self.rated_in_stars if self.rated_in_stars else None


@dataclass(frozen=True)
class Comment:
    at: datetime
    agent: str
    satisfied: bool | None
    rating: str  # "4/5", "👍"
    text: str


@dataclass
class Results:
    overall: Tally = field(default_factory=Tally)
    by_agent: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_reason: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_channel: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    comments: list[Comment] = field(default_factory=list)


def _shown(survey: Survey) -> str:
    if survey.rating is None:
        return "–"
    if survey.scale == STARS:
        return f"{survey.rating}/5"
    return "👍" if survey.satisfied else "👎"


def results(session: Session, start: datetime, end: datetime) -> Results:
    """The questions asked in [start, end) and their answers."""
    found = Results()
    surveys = session.execute(
        select(Survey)
        .where(Survey.asked_at >= start, Survey.asked_at < end)
        .order_by(Survey.asked_at)
    ).scalars()
    for survey in surveys:
        for tally in (
            found.overall,
            found.by_agent[survey.agent],
            found.by_reason[survey.reason],
            found.by_channel[survey.channel],
        ):
            tally.add(survey)
        if survey.comment:
            found.comments.append(
                Comment(
                    at=survey.answered_at or survey.asked_at,
                    agent=survey.agent,
                    satisfied=survey.satisfied,
                    rating=_shown(survey),
                    text=survey.comment,
                )
            )
    found.comments = found.comments[-COMMENTS:][::-1]
    return found


def average(value: float | None, language: str) -> str:
    """3.5/5, or 3,5/5 in French."""
    if value is None:
        return "–"
    shown = f"{value:.1f}/5"
    return shown.replace(".", ",", 1) if language == "fr" else shown


def rows(
    found: Results, language: str, agent_names: Mapping[str, str] | None = None
) -> list[tuple[str, str, int, int, str, str]]:
    """(group, name, asked, answered, satisfied share, average) per agent
    (their display name when `agent_names` has it), reason and channel, most
    asked first within each group."""
    table = []
    shown = agent_names or {}
    names = {
        "agent": {key: shown.get(key, key) for key in found.by_agent},
        "reason": {key: label(f"reason.{key}", language) for key in found.by_reason},
        "channel": {key: CHANNEL_NAMES.get(key, key) for key in found.by_channel},
    }
    groups = (
        ("agent", found.by_agent),
        ("reason", found.by_reason),
        ("channel", found.by_channel),
    )
    for group, tallies in groups:
        for key, tally in sorted(tallies.items(), key=lambda item: -item[1].asked):
            table.append(
                (
                    group,
                    names[group][key],
                    tally.asked,
                    tally.answered,
                    percent(tally.satisfied_share),
                    average(tally.average, language),
                )
            )
    return table
