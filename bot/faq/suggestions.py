"""What the crowd teaches the FAQ: candidate examples an editor reviews.

Three moments show which topic a question was about although the model was
not sure of it:

- **clarification**: the bot asked "did you mean" and the person clicked a
  topic's button;
- **rephrase**: the bot declined a question, and the person's next message,
  written soon after and meaning the same thing (the sentence encoder's
  cosine, bot/nlu/encoder.py), got an FAQ answer directly. A next message
  about something else ("c'est dangereux ?", then "comment me faire
  rembourser ?") teaches nothing about the first;
- **agent**: a community manager answered the person with an FAQ answer from
  the console (or `relais queue reply`).

Each becomes a suggestion (question -> topic), stored with e-mail addresses
and phone numbers removed, deduplicated (the same words, case and spacing
aside, count once per topic, with how many people asked), with its evidence:
for a rephrase, the message that got the answer and how similar the two are.
A click or an agent's answer is a person's explicit choice; a rephrase is an
inference, so one person's rephrase that is only fairly similar is
*unconfirmed*: shown for review one by one, never accepted in bulk ("accept
the whole topic" takes the confirmed ones only). Editors review them
with `relais suggestions` or on the console's Suggestions page: accept, reject
or move to another topic. An accepted suggestion is written into the pack as
an example (bot.faq.writer: linted first, every file whole); `relais publish`
trains on it like on any example. Nothing reaches a model without an
editor's accept.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Column, Float, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow
from bot.faq import versions
from bot.faq.pack import LANGUAGES, Topic
from bot.faq.writer import PackRefused
from bot.nlu import encoder

logger = logging.getLogger(__name__)

CLARIFICATION, REPHRASE, AGENT = "clarification", "rephrase", "agent"
SOURCES = (CLARIFICATION, REPHRASE, AGENT)
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
# Longer messages are stories, not questions: poor examples.
MAX_TEXT = 300
# Declines that say nothing about the topic: no words, another language, a
# message too long to be an example.
_NOT_A_QUESTION = {"no_words", "foreign_language", "too_long"}
# Messages that are not about a topic (a request for a human, a greeting...).
_NOT_ABOUT_A_TOPIC = {"request_human", "greet", "goodbye", "thanks", "bot_challenge",
                      "insult"}  # fmt: skip

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Eight digits or more, with spaces, dots or dashes between them (not slashes:
# dates): phone numbers in French and international formats, card numbers.
_PHONE = re.compile(r"(?:\+|\b00)?\d(?:[ .\-]?\d){7,}")
# A rephrase is the same question asked again: within this many seconds of
# the declined one...
REPHRASE_WITHIN = 600
# ...and at least this similar to it (cosine of their sentence vectors). On
# the training phrasings of the shipped packs and ../shared/dev-data's five
# sets, 1 to 5 % of pairs of questions of *different* topics reach 0.5
# (between the 95th and 99th percentile per set), against 12 to 60 % of two
# phrasings of one topic (docs/benchmarks.md): a missed suggestion costs an
# editor nothing, a wrong one teaches the model a wrong topic (issues 27, 28).
REPHRASE_SIMILARITY = 0.5
# A rephrase is confirmed when it is this similar (at 0.7, 0.1 to 0.3 % of
# pairs of different topics, against 3 to 25 % of one topic's phrasings, on
# the same sets), or when this many people made it.
CONFIRMED_SIMILARITY = 0.7
CONFIRMED_BY = 2


class Learned(NamedTuple):
    """A question an answer resolved, and how we know."""

    text: str
    source: str
    evidence: str | None = None  # for a rephrase: the message that got the answer
    similarity: float | None = None  # for a rephrase: how near the two are


class SuggestionError(ValueError):
    """A review action that cannot be done; the message says why."""


class Suggestion(Base):
    __tablename__ = "faq_suggestion"
    __table_args__ = (UniqueConstraint("key", "topic", "language"),)

    id = Column(Integer, primary_key=True)
    text = Column(Text, nullable=False)  # as asked, e-mails and phones removed
    key = Column(String(300), nullable=False)  # the text normalised: one per topic
    language = Column(String(2), nullable=False)
    topic = Column(String(100), nullable=False)  # what people were answered with
    source = Column(String(20), nullable=False)  # how it was first learned
    asked = Column(Integer, nullable=False, default=1)  # how many people
    last_conversation = Column(String(200))
    first_seen = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen = Column(UTCDateTime, nullable=False, default=utcnow)
    status = Column(String(10), nullable=False, default=PENDING)
    decided_by = Column(String(100))
    decided_at = Column(UTCDateTime)
    accepted_topic = Column(String(100))  # the topic it went to (moved or not)
    evidence = Column(Text)  # a rephrase: the message that got the answer
    similarity = Column(Float)  # a rephrase: the highest seen, 0 to 1

    @property
    def confirmed(self) -> bool:
        """Safe to accept with others: a click, an agent's answer, or a
        rephrase that is very similar or that several people made."""
        return (
            self.source != REPHRASE
            or self.asked >= CONFIRMED_BY
            or (self.similarity or 0.0) >= CONFIRMED_SIMILARITY
        )


def scrub(text: str) -> str:
    """The text without e-mail addresses and phone numbers, spaces tidied."""
    text = _EMAIL.sub("[e-mail]", text)
    text = _PHONE.sub("[phone]", text)
    return " ".join(text.split())


def normalise(text: str) -> str:
    """What makes two phrasings the same suggestion: case, spacing and
    punctuation at the ends aside."""
    return " ".join(text.lower().split()).strip(" ?!.,;:…")[:MAX_TEXT]


def record(
    *,
    session: Session,
    text: str,
    topic: str,
    language: str,
    source: str,
    conversation_id: str,
    now: datetime | None = None,
    evidence: str | None = None,
    similarity: float | None = None,
) -> Suggestion | None:
    """Counts one person's question as a candidate example of `topic`.

    The same person asking again does not count twice. A suggestion an editor
    rejected stays rejected (it is still counted). Returns None for text that
    cannot be an example (empty, a button payload, too long).
    """
    text = scrub(text)
    key = normalise(text)
    if not key or text.startswith("/") or len(text) > MAX_TEXT:
        return None
    if source not in SOURCES or language not in LANGUAGES:
        raise ValueError(f"unknown source {source!r} or language {language!r}")
    now = now or utcnow()
    for _ in range(2):  # a concurrent first insert wins; count on top of it
        existing = session.execute(
            select(Suggestion).where(
                Suggestion.key == key,
                Suggestion.topic == topic,
                Suggestion.language == language,
            )
        ).scalar_one_or_none()
        if existing is not None:
            if existing.last_conversation != conversation_id:
                existing.asked += 1
                existing.last_conversation = conversation_id
            existing.last_seen = now
            if similarity is not None and similarity > (existing.similarity or 0.0):
                existing.similarity = similarity
                existing.evidence = scrub(evidence or "")[:MAX_TEXT] or None
            session.flush()
            return existing
        suggestion = Suggestion(
            text=text, key=key, language=language, topic=topic, source=source,
            asked=1, last_conversation=conversation_id, first_seen=now,
            last_seen=now, status=PENDING,
            evidence=scrub(evidence or "")[:MAX_TEXT] or None, similarity=similarity,
        )  # fmt: skip
        try:
            with session.begin_nested():
                session.add(suggestion)
            return suggestion
        except IntegrityError:
            continue
    return None


def similarity(first: str, second: str) -> float:
    """How nearly two messages mean the same (cosine of their sentence
    vectors, bot/nlu/encoder.py)."""
    vectors = encoder.encode([first, second])
    return float(vectors[0] @ vectors[1])


def learned_from(
    events: Sequence[dict[str, Any]],
    clicked: bool,
    similar: Callable[[str, str], float] = similarity,
) -> Learned | None:
    """The question an FAQ answer just resolved, and how, from a tracker's events.

    Args:
        events: The conversation's events, the answered message last.
        clicked: The answer came from a "did you mean" button.
        similar: How nearly two texts mean the same (0 to 1).

    Returns:
        The question and how it was learned, or None when the message
        before was not a question the bot declined, or (without a click) not
        the same question as the one answered.
    """
    users = [event for event in events if event.get("event") == "user"]
    if len(users) < 2:
        return None
    before, answered = users[-2], users[-1]
    parse = before.get("parse_data") or {}
    text = str(before.get("text") or "")
    if (parse.get("intent") or {}).get("name") != "nlu_fallback" or text.startswith(
        "/"
    ):
        return None
    if (parse.get("gate") or {}).get("reason") in _NOT_A_QUESTION:
        return None
    if clicked:
        return Learned(text, CLARIFICATION)
    near = _rephrase_similarity(before, answered, similar)
    if near is None or near < REPHRASE_SIMILARITY:
        return None
    return Learned(text, REPHRASE, str(answered.get("text") or ""), round(near, 3))


def _rephrase_similarity(
    before: dict[str, Any],
    answered: dict[str, Any],
    similar: Callable[[str, str], float],
) -> float | None:
    """How nearly the answered message means what `before` asked (0 to 1),
    or None when it came too late to be the same question asked again."""
    asked, again = before.get("timestamp"), answered.get("timestamp")
    if asked is not None and again is not None and again - asked > REPHRASE_WITHIN:
        return None
    text = str(answered.get("text") or "")
    if not text:
        return None
    # The vectors the Rasa process computed when it parsed each message.
    first, second = (
        encoder.from_text((event.get("parse_data") or {}).get(encoder.PARSE_KEY))
        for event in (before, answered)
    )
    if first is not None and second is not None:
        return float(first @ second)
    return similar(str(before.get("text") or ""), text)


def question_before_reply(events: Sequence[dict[str, Any]]) -> str | None:
    """The person's last question (not a greeting, a button or a request for a
    human): what an agent's FAQ answer replied to."""
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        text = str(event.get("text") or "")
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if text and not text.startswith("/") and intent not in _NOT_ABOUT_A_TOPIC:
            return text
    return None


def pending(*, session: Session, topic: str | None = None) -> list[Suggestion]:
    """Pending suggestions, by topic (most asked topic first), most asked first."""
    query = select(Suggestion).where(Suggestion.status == PENDING)
    if topic:
        query = query.where(Suggestion.topic == topic)
    rows = list(session.execute(query).scalars())
    per_topic: dict[str, int] = {}
    for row in rows:
        per_topic[row.topic] = per_topic.get(row.topic, 0) + row.asked
    return sorted(
        rows, key=lambda r: (-per_topic[r.topic], r.topic, -r.asked, r.first_seen)
    )


@dataclasses.dataclass
class Review:
    """What an accept did: examples written, per topic, and what was skipped."""

    written: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: list[str] = dataclasses.field(default_factory=list)


def _chosen(session: Session, ids: Iterable[int]) -> list[Suggestion]:
    ids = list(dict.fromkeys(ids))
    rows = {
        row.id: row
        for row in session.execute(select(Suggestion).where(Suggestion.id.in_(ids)))
        .scalars()
        .all()
    }
    missing = [str(i) for i in ids if i not in rows]
    if missing:
        raise SuggestionError(f"No suggestion {', '.join(missing)}.")
    decided = [f"{i} ({rows[i].status})" for i in ids if rows[i].status != PENDING]
    if decided:
        raise SuggestionError(f"Already reviewed: {', '.join(decided)}.")
    return [rows[i] for i in ids]


def accept(
    *,
    session: Session,
    faq_dir: Path,
    ids: Iterable[int],
    editor: str,
    topic: str | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Review:
    """Writes the suggestions into the pack as examples, then marks them accepted.

    Args:
        topic: Move them all to this topic instead of the one people got.

    Raises:
        SuggestionError: An unknown or already reviewed suggestion, an unknown
            topic, or a pack the lint refuses (nothing is written then).
    """
    chosen = _chosen(session, ids)
    pack = versions.live_pack(session=session, faq_dir=faq_dir)
    if topic is not None and topic not in pack:
        raise SuggestionError(f"No topic {topic!r} in the pack.")
    known = {
        normalise(example): key
        for key, existing in pack.items()
        for examples in existing.examples.values()
        for example in examples
    }
    review, changed = Review(), dict[str, Topic]()
    accepted: list[tuple[Suggestion, str]] = []
    for suggestion in chosen:
        target = topic or suggestion.topic
        if target not in pack:
            raise SuggestionError(
                f"Suggestion {suggestion.id}: the topic {target!r} is no longer in "
                "the pack; move it to another topic."
            )
        already = known.get(suggestion.key)
        if already is not None and already != target:
            review.skipped.append(
                f"{suggestion.id} “{suggestion.text}” is already an example of "
                f"{already}: reject it or move it there."
            )
            continue
        if already is None:
            current = changed.get(target, pack[target])
            examples = {**current.examples}
            examples[suggestion.language] = [
                *examples.get(suggestion.language, []),
                suggestion.text,
            ]
            changed[target] = dataclasses.replace(current, examples=examples)
            known[suggestion.key] = target
            review.written[target] = review.written.get(target, 0) + 1
        accepted.append((suggestion, target))
    if changed:
        try:
            # Examples only: live at once, even with four-eyes approval on.
            versions.save_many(
                session=session,
                faq_dir=faq_dir,
                topics=list(changed.values()),
                author=editor,
                approval_needed=False,
                note="accepted suggestions",
                today=today,
            )
        except PackRefused as error:
            raise SuggestionError(
                "The pack would not pass the lint, nothing was written: "
                + "; ".join(error.problems)
            ) from None
    now = now or utcnow()
    for suggestion, target in accepted:
        suggestion.status, suggestion.accepted_topic = ACCEPTED, target
        suggestion.decided_by, suggestion.decided_at = editor, now
    session.flush()
    return review


def reject(
    *, session: Session, ids: Iterable[int], editor: str, now: datetime | None = None
) -> int:
    """Marks the suggestions rejected: they never come back as pending."""
    chosen = _chosen(session, ids)
    now = now or utcnow()
    for suggestion in chosen:
        suggestion.status, suggestion.decided_by, suggestion.decided_at = (
            REJECTED, editor, now,
        )  # fmt: skip
    session.flush()
    return len(chosen)
