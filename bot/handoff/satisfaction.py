"""How did it go? The person is asked once, after a human hands back.

When an agent closes a conversation they answered (bot/handoff/agent.py
`close`), the person gets, after the closing message, one question in their
language with buttons: 1 to 5, or 👍 / 👎 (the profile's `satisfaction:`,
bot/profile.py). A button is the `rate` intent with a `rating` entity
(actions/satisfaction.py); after it the person may add a comment in their
own words, which the next message they write (unless it is a question the
assistant answers, or a request for a person) becomes.

Never asked: after a ticket no human answered, when the channel no longer
takes a message (past its 24-hour window), or after the reasons the profile
names (health and self-harm by default: a person who got sick is not asked
to rate anyone). One survey per ticket; a second click changes the rating.

The results, per agent, reason and channel, are the overview's and the
report's (bot/insights/satisfaction.py).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Index, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow
from bot.handoff.models import Ticket
from bot.profile import Satisfaction

STARS, THUMBS = "stars", "thumbs"
UP, DOWN = 1, 0
# A rating still counts this long after the question.
ANSWERABLE_FOR = timedelta(days=7)
MAX_COMMENT = 1000
RATE_INTENT = "rate"
RATING_ENTITY = "rating"
QUESTIONS = {STARS: "utter_satisfaction_stars", THUMBS: "utter_satisfaction_thumbs"}
STAR_TITLES = {
    "fr": ["1 – Pas du tout", "2", "3", "4", "5 – Très satisfait"],
    "en": ["1 – Not at all", "2", "3", "4", "5 – Very satisfied"],
}
THUMB_TITLES = {"fr": ("👍 Oui", "👎 Non"), "en": ("👍 Yes", "👎 No")}
# A rating typed rather than clicked: "4/5", "je mets 4 sur 5", "5 étoiles",
# or a short message with one number ("je vous mets 4").
_OUT_OF_FIVE = re.compile(r"(?<!\d)([1-5])\s*(?:/|sur|out of|on)\s*5(?!\d)")
_STARS = re.compile(r"(?<!\d)([1-5])\s*(?:étoiles?|stars?|⭐)")
_NUMBER = re.compile(r"\d+")
SHORT = 40
# Skin tones follow the same character.
THUMB_UP, THUMB_DOWN = "👍", "👎"


class Survey(Base):
    """One question after one handoff, and what the person answered."""

    __tablename__ = "satisfaction_survey"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, nullable=False, unique=True)
    conversation_id = Column(String(255), nullable=False)
    agent = Column(String(100), nullable=False)  # who handed back
    reason = Column(String(32), nullable=False)
    channel = Column(String(64), nullable=False)
    language = Column(String(8), nullable=False)
    scale = Column(String(8), nullable=False)
    asked_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # 1 to 5 on the stars scale; UP (1) or DOWN (0) on the thumbs one.
    rating = Column(Integer)
    answered_at = Column(UTCDateTime)
    comment = Column(Text)

    __table_args__ = (
        Index("ix_satisfaction_survey_conversation", "conversation_id", "asked_at"),
    )

    @property
    def satisfied(self) -> bool | None:
        """4 or 5 stars, or a thumb up; None before an answer."""
        if self.rating is None:
            return None
        return self.rating == UP if self.scale == THUMBS else self.rating >= 4


def should_ask(ticket: Ticket, settings: Satisfaction) -> bool:
    """Whether closing this ticket asks the person how it went."""
    return (
        settings.ask
        and ticket.first_reply_at is not None
        and ticket.reason not in settings.not_after
    )


def payload(value: str) -> str:
    """What a rating button sends: the `rate` intent with its `rating`."""
    return f"/{RATE_INTENT}" + json.dumps({RATING_ENTITY: value})


def question_event(
    text: str, scale: str, language: str, timestamp: float | None = None
) -> dict[str, Any]:
    """The question as a bot message with its buttons (each one the `rate`
    intent with its rating, so no model reads the click)."""
    language = language if language in STAR_TITLES else "fr"
    if scale == THUMBS:
        up, down = THUMB_TITLES[language]
        choices = [(up, "up"), (down, "down")]
    else:
        choices = [(title, str(n)) for n, title in enumerate(STAR_TITLES[language], 1)]
    buttons = [{"title": title, "payload": payload(value)} for title, value in choices]
    return {
        "event": "bot",
        "text": text,
        "timestamp": timestamp or time.time(),
        "data": {"buttons": buttons},
        "metadata": {"relais_satisfaction": scale},
    }


def record_question(
    *, session: Session, ticket: Ticket, agent: str, scale: str
) -> None:
    session.add(
        Survey(
            ticket_id=ticket.id,
            conversation_id=ticket.conversation_id,
            agent=agent,
            reason=ticket.reason,
            channel=ticket.channel,
            language=ticket.language,
            scale=scale,
        )
    )
    session.flush()


def latest(
    *, session: Session, conversation_id: str, now: datetime | None = None
) -> Survey | None:
    """The survey this person can still answer: the latest, asked within
    `ANSWERABLE_FOR`."""
    since = (now or utcnow()) - ANSWERABLE_FOR
    return session.execute(
        select(Survey)
        .where(Survey.conversation_id == conversation_id, Survey.asked_at >= since)
        .order_by(Survey.asked_at.desc(), Survey.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def read_rating(value: str | None, scale: str) -> int | None:
    """A button's value ("1".."5", "up", "down") or a typed rating ("4/5",
    "4 sur 5", "👍") on `scale`; None when it is not one."""
    text = (value or "").strip().lower()
    up = text == "up" or THUMB_UP in text
    down = text == "down" or THUMB_DOWN in text
    if up != down:
        if scale == THUMBS:
            return UP if up else DOWN
        return 5 if up else 1
    given = set(_OUT_OF_FIVE.findall(text)) | set(_STARS.findall(text))
    numbers = _NUMBER.findall(text)
    if not given and len(text) <= SHORT and len(numbers) == 1:
        given = {numbers[0]}
    if len(given) != 1 or not given <= set("12345"):
        return None  # none, or "3 or 4 out of 5"
    stars = int(given.pop())
    if scale == THUMBS:
        return UP if stars >= 4 else DOWN if stars <= 2 else None
    return stars


def rate(
    *, session: Session, conversation_id: str, value: str | None,
    now: datetime | None = None,
) -> Survey | None:  # fmt: skip
    """Records the person's rating on their latest survey (a second click
    changes it); None when there is none to answer or `value` is no rating."""
    survey = latest(session=session, conversation_id=conversation_id, now=now)
    return None if survey is None else rate_survey(survey, value, now)


def rate_survey(
    survey: Survey, value: str | None, now: datetime | None = None
) -> Survey | None:
    """Records a rating on `survey`; None when `value` is no rating."""
    rating = read_rating(value, survey.scale)
    if rating is None:
        return None
    survey.rating = rating
    survey.answered_at = now or utcnow()
    return survey


def add_comment(
    *, session: Session, conversation_id: str, text: str,
    now: datetime | None = None,
) -> Survey | None:  # fmt: skip
    """Keeps the person's comment on the survey they rated (several messages
    add up); None when they rated none."""
    survey = latest(session=session, conversation_id=conversation_id, now=now)
    text = " ".join(text.split())
    if survey is None or survey.rating is None or not text:
        return None
    joined = f"{survey.comment}\n{text}" if survey.comment else text
    survey.comment = joined[:MAX_COMMENT]
    session.flush()
    return survey
