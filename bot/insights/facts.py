"""Every message a person wrote, and what became of it, from Rasa's events.

The console's event watcher (bot/events/watcher.py) hands each batch of
events, in order, to `record`. A `user` event becomes a `MessageFact`; the
events after it in the same conversation (the actions Rasa ran, a pause, the
"did you mean" slot) say what became of it:

    action_answer_faq                    -> answered (its topic kept)
    action_clarify with candidates       -> did_you_mean
    action_clarify without (foreign language, too long, no words) -> declined
    action_out_of_scope                  -> out_of_scope
    action_handoff, or a pause           -> handoff
    greetings, thanks, "are you a bot",
    news subscriptions, a rating or a
    comment after a handoff              -> small_talk
    written while a ticket was open      -> human
    nothing before the next message      -> no_reply

A later event of the same turn can overrule an earlier one (an answer to a
disabled topic turns into "did you mean"; the all-to-humans switch turns an
answer into a handoff): outcomes rank as in `RANK`, and the 5-minute counts
move with the outcome. A turn's events may arrive in two batches: the fact
is stored after the first and found again by its conversation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.faq.suggestions import scrub
from bot.handoff.models import Ticket
from bot.insights import sentiment
from bot.insights.models import (
    ANSWERED,
    BUCKET_MINUTES,
    DECLINED,
    DID_YOU_MEAN,
    HANDOFF,
    HUMAN,
    NO_REPLY,
    OUT_OF_SCOPE,
    PENDING,
    SMALL_TALK,
    MessageFact,
    StatBucket,
)
from bot.nlu import encoder

MAX_TEXT = 500
# A message nothing answered within this long is settled as no_reply.
SETTLE_AFTER = timedelta(minutes=2)
# What overrules what within one turn.
RANK = {
    PENDING: 0,
    NO_REPLY: 1,
    SMALL_TALK: 2,
    ANSWERED: 3,
    OUT_OF_SCOPE: 4,
    DECLINED: 5,
    DID_YOU_MEAN: 6,
    HANDOFF: 7,
    HUMAN: 8,
}
SMALL_TALK_ACTIONS = frozenset(
    {
        "action_greet",
        "action_bot_challenge",
        "utter_goodbye",
        "utter_thanks",
        "utter_insult",
        "action_subscribe",
        "action_unsubscribe",
        "action_rate",
        "action_satisfaction_comment",
    }
)
# The gate's reasons for offering no "did you mean" (bot/nlu/gate.py).
DECLINE_REASONS = ("foreign_language", "too_long", "no_words")


def bucket_start(at: datetime) -> datetime:
    at = at.astimezone(timezone.utc)
    return at.replace(
        minute=at.minute - at.minute % BUCKET_MINUTES, second=0, microsecond=0
    )


def _when(event: dict[str, Any]) -> datetime:
    timestamp = event.get("timestamp")
    if isinstance(timestamp, (int, float)):
        return datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return datetime.now(timezone.utc)


def _language(parse_data: dict[str, Any], previous: str | None) -> str:
    detected = parse_data.get("language")
    if isinstance(detected, dict):
        if detected.get("foreign"):
            return "other"
        if detected.get("language") in ("fr", "en"):
            return str(detected["language"])
    return previous or "fr"


def _answered_topic(parse_data: dict[str, Any]) -> str:
    """The clicked "did you mean" topic, else the response selector's choice."""
    for entity in parse_data.get("entities") or []:
        if entity.get("entity") == "faq_topic" and entity.get("value"):
            return str(entity["value"])[:100]
    selected = ((parse_data.get("response_selector") or {}).get("faq") or {}).get(
        "response"
    ) or {}
    key = str(selected.get("intent_response_key") or "")
    return key.split("/", 1)[1][:100] if key.startswith("faq/") else ""


def _meaning(parse: dict[str, Any]) -> str | None:
    """The message's sentence vector as the Rasa process wrote it, if any."""
    meaning = parse.get(encoder.PARSE_KEY)
    return meaning if isinstance(meaning, str) and len(meaning) < 4096 else None


def _declines(parse: dict[str, Any]) -> bool:
    """Whether a clarification of this message would offer nothing to click."""
    gate = parse.get("gate") or {}
    return gate.get("reason") in DECLINE_REASONS or not gate.get("candidates")


def _evidence(event: dict[str, Any], fact: MessageFact) -> str:
    """The outcome one event after a message points at, or PENDING."""
    kind = event.get("event")
    if kind == "pause":
        return HANDOFF
    if kind == "slot":
        # After an answer: the topic was disabled, the bot offered others.
        clarified = event.get("name") == "asked_to_clarify" and event.get("value")
        return DID_YOU_MEAN if clarified and fact.outcome == ANSWERED else PENDING
    if kind != "action":
        return PENDING
    name = event.get("name")
    if name == "action_answer_faq":
        return ANSWERED
    if name == "action_clarify":
        return DECLINED if fact.declinable else DID_YOU_MEAN
    if name == "action_handoff":
        return HANDOFF
    if name == "action_out_of_scope":
        return OUT_OF_SCOPE
    if name in SMALL_TALK_ACTIONS:
        return SMALL_TALK
    return PENDING


@dataclass
class _Counts:
    messages: int = 0
    conversations: int = 0
    started: int = 0
    negative: int = 0
    angry: int = 0


class Recorder:
    """Turns one batch of events into facts and 5-minute counts."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.last: dict[str, MessageFact | None] = {}
        self.counts: dict[tuple[datetime, str, str, str], _Counts] = defaultdict(
            _Counts
        )

    def _last_fact(self, sender: str) -> MessageFact | None:
        if sender not in self.last:
            self.last[sender] = self.session.execute(
                select(MessageFact)
                .where(MessageFact.conversation_id == sender)
                .order_by(MessageFact.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return self.last[sender]

    def _count(self, fact: MessageFact, sign: int) -> None:
        topic = fact.topic if fact.outcome == ANSWERED else ""
        counts = self.counts[
            (bucket_start(fact.at), fact.language, topic, fact.outcome)
        ]
        counts.messages += sign
        counts.conversations += sign * bool(fact.new_in_bucket)
        counts.started += sign * bool(fact.new_conversation)
        counts.negative += sign * (fact.mood != sentiment.NEUTRAL)
        counts.angry += sign * (fact.mood == sentiment.ANGRY)

    def settle(self, fact: MessageFact, outcome: str) -> None:
        """Gives `fact` its outcome, moving its count from the old one."""
        if outcome == fact.outcome:
            return
        if fact.outcome != PENDING:
            self._count(fact, -1)
        fact.outcome = outcome
        self._count(fact, +1)

    def _with_a_human(self, sender: str, at: datetime) -> bool:
        """Whether a ticket of this conversation was open at `at` (from when
        the bot handed over until an agent closed it)."""
        return (
            self.session.execute(
                select(Ticket.id)
                .where(
                    Ticket.conversation_id == sender,
                    Ticket.created_at <= at,
                    or_(Ticket.closed_at.is_(None), Ticket.closed_at > at),
                )
                .limit(1)
            ).first()
            is not None
        )

    def user(self, sender: str, event: dict[str, Any]) -> None:
        last = self._last_fact(sender)
        if last is not None and last.outcome == PENDING:
            self.settle(last, NO_REPLY)
        parse = event.get("parse_data") or {}
        at = _when(event)
        language = _language(parse, last.language if last else None)
        text = str(event.get("text") or "")
        mood = sentiment.score(text, language)
        fact = MessageFact(
            conversation_id=sender,
            at=at,
            channel=str(event.get("input_channel") or "")[:64],
            language=language,
            text=scrub(text)[:MAX_TEXT],
            intent=str((parse.get("intent") or {}).get("name") or "")[:64],
            topic=_answered_topic(parse),
            outcome=PENDING,
            negative=mood.negative,
            anger=mood.anger,
            mood=mood.label,
            new_conversation=last is None,
            new_in_bucket=last is None or bucket_start(last.at) != bucket_start(at),
            declinable=_declines(parse),
            meaning=_meaning(parse),
        )
        self.session.add(fact)
        self.last[sender] = fact
        if self._with_a_human(sender, at):
            self.settle(fact, HUMAN)

    def other(self, sender: str, event: dict[str, Any]) -> None:
        if event.get("event") not in ("action", "pause", "slot"):
            return
        fact = self._last_fact(sender)
        if fact is None or fact.outcome == HUMAN:
            return
        evidence = _evidence(event, fact)
        if RANK[evidence] > RANK[fact.outcome]:
            self.settle(fact, evidence)

    def flush(self) -> None:
        """Writes the counts gathered in this batch."""
        self.session.flush()
        add_counts(self.session, self.counts)
        self.counts.clear()


def add_counts(
    session: Session, counts: dict[tuple[datetime, str, str, str], _Counts]
) -> None:
    """Adds `counts` to the 5-minute buckets, creating missing ones."""
    changed = {key: value for key, value in counts.items() if value != _Counts()}
    if not changed:
        return
    existing = {
        (row.start, row.language, row.topic, row.outcome): row
        for row in session.execute(
            select(StatBucket).where(StatBucket.start.in_({key[0] for key in changed}))
        ).scalars()
    }
    for key, delta in changed.items():
        row = existing.get(key)
        if row is None:
            row = StatBucket(
                start=key[0],
                language=key[1],
                topic=key[2],
                outcome=key[3],
                messages=0,
                conversations=0,
                started=0,
                negative=0,
                angry=0,
            )
            session.add(row)
        row.messages += delta.messages
        row.conversations += delta.conversations
        row.started += delta.started
        row.negative += delta.negative
        row.angry += delta.angry
        if row.messages == 0:
            # An outcome a later event overruled within the same turn.
            if row in session.new:
                session.expunge(row)
            else:
                session.delete(row)


def record(
    session: Session, events: Iterable[dict[str, Any]], now: datetime | None = None
) -> int:
    """Records the user messages among `events` (each with its `sender_id`,
    in the order Rasa published them) and what became of them; settles
    messages left unanswered for SETTLE_AFTER. Returns how many messages."""
    recorder = Recorder(session)
    messages = 0
    for event in events:
        sender = event.get("sender_id")
        if not isinstance(sender, str) or not sender:
            continue
        if event.get("event") == "user":
            recorder.user(sender, event)
            messages += 1
        else:
            recorder.other(sender, event)
    stale = session.execute(
        select(MessageFact)
        .where(
            MessageFact.outcome == PENDING,
            MessageFact.at < (now or datetime.now(timezone.utc)) - SETTLE_AFTER,
        )
        .limit(1000)
    ).scalars()
    for fact in stale:
        # A later event of its turn can still overrule this (a back-fill
        # whose turn spans two batches).
        recorder.settle(fact, NO_REPLY)
    recorder.flush()
    return messages


# How many of a conversation's latest messages its mood is read from.
MOOD_MESSAGES = 5
_MOOD_RANK = {sentiment.NEUTRAL: 0, sentiment.NEGATIVE: 1, sentiment.ANGRY: 2}


def conversation_moods(session: Session, conversation_ids: list[str]) -> dict[str, str]:
    """Each conversation's mood: the worst of its last few messages."""
    if not conversation_ids:
        return {}
    rows = session.execute(
        select(MessageFact.conversation_id, MessageFact.mood)
        .where(MessageFact.conversation_id.in_(conversation_ids))
        .order_by(MessageFact.conversation_id, MessageFact.id.desc())
    ).all()
    moods: dict[str, str] = {}
    seen: dict[str, int] = defaultdict(int)
    for conversation_id, mood in rows:
        if seen[conversation_id] >= MOOD_MESSAGES:
            continue
        seen[conversation_id] += 1
        current = moods.get(conversation_id, sentiment.NEUTRAL)
        if _MOOD_RANK.get(mood, 0) > _MOOD_RANK[current]:
            current = mood
        moods[conversation_id] = current
    return moods
