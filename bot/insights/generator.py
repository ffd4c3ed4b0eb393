"""A realistic crisis day, written straight into the stores Rasa writes.

    relais simulate --day 2026-11-28 --conversations 3000

Thousands of conversations in both languages with a known mixture: the FAQ's
own questions (from the pack's examples), greetings and thanks, unclear
messages ("did you mean"), out-of-scope and foreign-language ones, people
asking for a human, angry and sick people handed to the team with known
waits, and a question nobody planned for (the pack's `simulation.yml`,
`new_question`) that spikes at a known time. People whose ticket was
closed are asked how it went (not after health or self-harm), and some rate
it, lower after a long wait. Each conversation becomes the
events Rasa itself records (the same sequence a real Rasa 3.6 run produces:
session start, user message with the Relais pipeline's parse data, the
action, the bot's reply, action_listen; pause, agents' replies and resume
around a handoff), written to the tracker store and to the SQL event broker's
table, and each handoff becomes a ticket. The console's event watcher then
reads the events as it reads Rasa's: the figures it derives can be checked
against `Truth`, what the generator knows it made.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from bot.faq.pack import Topic, load_pack
from bot.handoff.models import ASSIGNED, CLOSED, WAITING, Ticket
from bot.handoff.satisfaction import STARS, Survey
from bot.insights import models as m
from bot.nlu.triggers import REASON_PRIORITIES
from bot.profile import DEFAULT_NOT_ASKED_AFTER

# Rasa's SQL tracker store and SQL event broker tables
# (rasa/core/tracker_store.py, rasa/core/brokers/sql.py).
_rasa = sa.MetaData()
tracker_events = sa.Table(
    "events",
    _rasa,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)
_broker = sa.MetaData()
broker_events = sa.Table(
    "events",
    _broker,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("data", sa.Text),
)

# How a day's conversations start across its hours (local time): quiet at
# night, the recall announced in the morning, evenings busy again.
HOUR_WEIGHTS = (
    1,
    1,
    1,
    1,
    1,
    2,
    3,
    6,
    12,
    16,
    14,
    12,
    11,
    10,
    10,
    9,
    9,
    10,
    12,
    12,
    10,
    7,
    4,
    2,
)
# What each conversation is, and how often (the spike comes on top).
MIXTURE = {
    "faq": 0.60,
    "unclear_then_faq": 0.08,
    "unclear_twice": 0.03,
    "out_of_scope": 0.05,
    "foreign": 0.02,
    "human": 0.07,
    "angry": 0.10,
    "sick": 0.05,
}
HANDOFF_REASONS = {
    "unclear_twice": "misunderstood",
    "human": "asked_for_human",
    "angry": "anger",
    "sick": "health",
}
ENGLISH_SHARE = 0.25
# Of the people asked how it went after a handoff, those who answer; the
# ratings' weights (1 to 5) after a short and after a long first wait.
SURVEYS_ANSWERED = 0.45
RATINGS_QUICK = (1, 1, 2, 6, 10)
RATINGS_SLOW = (3, 2, 3, 5, 4)
SLOW_FIRST_REPLY = 600  # seconds
BATCH = 5000


@dataclass
class Truth:
    """What the generator made, to check the figures against."""

    start: str
    end: str
    conversations: int = 0
    messages: int = 0
    events: int = 0
    outcomes: dict[str, int] = field(default_factory=Counter)
    languages: dict[str, int] = field(default_factory=Counter)
    topics: dict[str, int] = field(default_factory=Counter)
    handoffs: dict[str, int] = field(default_factory=Counter)
    priorities: dict[str, int] = field(default_factory=Counter)
    first_reply_seconds: list[float] = field(default_factory=list)
    handling_seconds: list[float] = field(default_factory=list)
    angry_texts: int = 0
    spike_start: str = ""
    spike_messages: int = 0
    # New-question messages per 5-minute bucket (ISO start -> count).
    spike_buckets: dict[str, int] = field(default_factory=Counter)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


@dataclass(frozen=True)
class Scenario:
    """The texts of a day besides the FAQ's (the pack's simulation.yml)."""

    texts: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Scenario:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: a pack needs a simulation.yml to simulate a day."
            )
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    def pick(self, rng: random.Random, kind: str, language: str) -> str:
        texts = self.texts[kind]
        if isinstance(texts, dict):
            texts = texts.get(language) or texts["fr"]
        return str(rng.choice(texts))


class _Conversation:
    """Builds one conversation's events as Rasa records them."""

    def __init__(self, sender: str, at: datetime, channel: str) -> None:
        self.sender = sender
        self.clock = at.timestamp()
        self.channel = channel
        self.events: list[dict[str, Any]] = []
        self._add({"event": "action", "name": "action_session_start"})
        self._add({"event": "session_started"})
        self._add({"event": "slot", "name": "language", "value": "fr"})
        self._add({"event": "slot", "name": "asked_to_clarify", "value": False})
        self._add({"event": "action", "name": "action_listen"})

    def _add(self, event: dict[str, Any], after: float = 0.01) -> None:
        self.clock += after
        self.events.append({**event, "timestamp": self.clock})

    def wait(self, seconds: float) -> None:
        self.clock += seconds

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock, tz=timezone.utc)

    def user(self, text: str, language: str, parse: dict[str, Any]) -> datetime:
        detected = {
            "language": language if language in ("fr", "en") else None,
            "foreign": language == "other",
        }
        self._add(
            {
                "event": "user",
                "text": text,
                "input_channel": self.channel,
                "parse_data": {"text": text, "language": detected, **parse},
            }
        )
        if language in ("fr", "en"):
            self._add({"event": "slot", "name": "language", "value": language})
        self._add({"event": "user_featurization", "use_text_for_featurization": False})
        return self.now

    def act(self, action: str, reply: str, clarify: bool | None = None) -> None:
        self._add({"event": "action", "name": action}, after=0.3)
        self._add({"event": "bot", "text": reply})
        if clarify is not None:
            self._add({"event": "slot", "name": "asked_to_clarify", "value": clarify})
        if action == "action_handoff":
            self._add({"event": "pause"})
        else:
            self._add({"event": "action", "name": "action_listen"})

    def agent(self, name: str, text: str) -> None:
        self._add({"event": "bot", "text": text, "metadata": {"agent": name}})

    def resume(self) -> None:
        self._add({"event": "resume"})
        self._add({"event": "bot", "text": "La conversation reprend avec l'assistant."})
        self._add({"event": "action", "name": "action_listen"})


def _faq_parse(topic: str) -> dict[str, Any]:
    return {
        "intent": {"name": "faq", "confidence": 0.98},
        "entities": [],
        "response_selector": {
            "faq": {
                "response": {"intent_response_key": f"faq/{topic}", "confidence": 0.95}
            }
        },
        "gate": {"answer": True, "reason": None, "candidates": [topic]},
    }


def _unsure_parse(candidates: list[str]) -> dict[str, Any]:
    return {
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "entities": [],
        "gate": {"answer": False, "reason": "unsure_faq", "candidates": candidates},
    }


def _intent_parse(intent: str, **extra: Any) -> dict[str, Any]:
    return {"intent": {"name": intent, "confidence": 0.95}, "entities": [], **extra}


def _engine(url: str) -> sa.engine.Engine:
    # Rasa may be writing to the same SQLite file: wait for it, never fail.
    if url.startswith("sqlite"):
        return sa.create_engine(url, future=True, connect_args={"timeout": 30})
    return sa.create_engine(url, future=True)


class Day:
    """Generates one crisis day; `write` puts it into the stores."""

    def __init__(
        self,
        pack_dir: Path,
        start: datetime,
        conversations: int,
        spike_at: datetime,
        spike_per_hour: int = 120,
        seed: int = 7,
        hours: int = 24,
    ) -> None:
        self.rng = random.Random(seed)
        self.pack = {k: t for k, t in load_pack(pack_dir / "faq").items() if t.enabled}
        self.scenario = Scenario.load(pack_dir / "simulation.yml")
        self.start = start.astimezone(timezone.utc)
        self.end = self.start + timedelta(hours=hours)
        self.end_stamp = self.end.timestamp()
        self.conversations = conversations
        self.spike_at = spike_at.astimezone(timezone.utc)
        self.spike_per_hour = spike_per_hour
        self.truth = Truth(
            start=self.start.isoformat(),
            end=self.end.isoformat(),
            spike_start=self.spike_at.isoformat(),
        )
        self.tickets: list[Ticket] = []
        # Ticket -> rating (None: not answered), drawn apart from the rest so
        # the day's other draws stay as they were.
        self.ratings: dict[int, int | None] = {}
        self.survey_rng = random.Random(seed + 1)

    # --- what people write ------------------------------------------------

    def _question(self, language: str) -> tuple[str, Topic]:
        topic = self.rng.choice(list(self.pack.values()))
        examples = (
            topic.examples.get(language) or topic.examples.get("fr") or [topic.key]
        )
        return self.rng.choice(examples), topic

    def _start_time(self) -> datetime:
        hours = int((self.end - self.start).total_seconds() // 3600)
        weights = [
            HOUR_WEIGHTS[(self.start + timedelta(hours=h)).hour % 24]
            for h in range(hours)
        ]
        hour = self.rng.choices(range(hours), weights=weights)[0]
        return self.start + timedelta(hours=hour, seconds=self.rng.uniform(0, 3540))

    def _message(
        self,
        chat: _Conversation,
        text: str,
        language: str,
        parse: dict[str, Any],
        outcome: str,
        topic: str = "",
    ) -> None:
        at = chat.user(text, language, parse)
        if at >= self.end:
            return  # a late conversation going on after the day: not in its figures
        self.truth.messages += 1
        self.truth.outcomes[outcome] += 1
        self.truth.languages[language] += 1
        if outcome == m.ANSWERED:
            self.truth.topics[topic] += 1

    def _answer(self, chat: _Conversation, language: str) -> None:
        text, topic = self._question(language)
        self._message(
            chat, text, language, _faq_parse(topic.key), m.ANSWERED, topic.key
        )
        chat.act(
            "action_answer_faq", topic.answers.get(language) or topic.answers["fr"]
        )

    def _unclear(
        self, chat: _Conversation, language: str, kind: str = "unclear"
    ) -> None:
        candidates = [t.key for t in self.rng.sample(list(self.pack.values()), 3)]
        text = self.scenario.pick(self.rng, kind, language)
        self._message(chat, text, language, _unsure_parse(candidates), m.DID_YOU_MEAN)
        chat.act("action_clarify", "Je ne suis pas sûr d'avoir bien compris.", True)

    def _hand_over(self, chat: _Conversation, language: str, reason: str) -> None:
        """The ticket, the human's replies, and the hand-back, with known waits."""
        priority = REASON_PRIORITIES.get(reason, "normal")
        created = chat.now
        wait = self.rng.uniform(30, 900) * (0.4 if priority == "urgent" else 1.0)
        first_reply = wait + self.rng.uniform(10, 90)
        handling = self.rng.uniform(120, 1200)
        agent = self.rng.choice(["camille", "lucas", "ines"])
        chat.wait(first_reply)
        chat.agent(agent, "Bonjour, je suis là pour vous aider.")
        for _ in range(self.rng.randint(0, 2)):
            chat.wait(self.rng.uniform(20, 200))
            self._message(
                chat,
                self.scenario.pick(self.rng, "with_human", language),
                language,
                _intent_parse("thanks"),
                m.HUMAN,
            )
        # Closed once the handling time is over, after the person's last word.
        claimed = created + timedelta(seconds=wait)
        closed = max(
            claimed + timedelta(seconds=handling), chat.now + timedelta(seconds=30)
        )
        handling = (closed - claimed).total_seconds()
        chat.wait((closed - chat.now).total_seconds())
        chat.resume()
        self.tickets.append(
            Ticket(
                conversation_id=chat.sender,
                channel=chat.channel,
                language=language,
                reason=reason,
                priority=priority,
                status=CLOSED,
                agent=agent,
                escalations=1,
                transcript="[]",
                last_message="",
                created_at=created,
                updated_at=closed,
                claimed_at=claimed,
                first_reply_at=created + timedelta(seconds=first_reply),
                closed_at=closed,
            )
        )
        if reason not in DEFAULT_NOT_ASKED_AFTER:
            answered = self.survey_rng.random() < SURVEYS_ANSWERED
            weights = RATINGS_SLOW if first_reply > SLOW_FIRST_REPLY else RATINGS_QUICK
            self.ratings[id(self.tickets[-1])] = (
                self.survey_rng.choices(range(1, 6), weights)[0] if answered else None
            )
        if created < self.end:
            self.truth.handoffs[reason] += 1
            self.truth.priorities[priority] += 1
            if created + timedelta(seconds=first_reply) < self.end:
                self.truth.first_reply_seconds.append(round(first_reply, 3))
            if closed < self.end:
                self.truth.handling_seconds.append(round(handling, 3))

    def conversation(self, kind: str, at: datetime) -> _Conversation:
        language = "en" if self.rng.random() < ENGLISH_SHARE else "fr"
        channel = self.rng.choice(["socketio", "socketio", "rest"])
        chat = _Conversation(
            f"sim-{uuid.UUID(int=self.rng.getrandbits(128)).hex}", at, channel
        )
        self.truth.conversations += 1
        say = self.scenario.pick
        if kind in ("faq", "unclear_then_faq") and self.rng.random() < 0.2:
            self._message(
                chat,
                say(self.rng, "greeting", language),
                language,
                _intent_parse("greet"),
                m.SMALL_TALK,
            )
            chat.act("action_greet", "Bonjour, je suis l'assistant.")
            chat.wait(self.rng.uniform(5, 40))
        if kind == "faq":
            for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3))):
                self._answer(chat, language)
                chat.wait(self.rng.uniform(10, 120))
            if self.rng.random() < 0.3:
                self._message(
                    chat,
                    say(self.rng, "thanks", language),
                    language,
                    _intent_parse("thanks"),
                    m.SMALL_TALK,
                )
                chat.act("utter_thanks", "Avec plaisir.")
        elif kind == "unclear_then_faq":
            self._unclear(chat, language)
            chat.wait(self.rng.uniform(10, 60))
            self._answer(chat, language)
        elif kind in ("unclear_twice", "spike"):
            source = "new_question" if kind == "spike" else "unclear"
            self._unclear(chat, language, source)
            if kind == "spike":
                self._spiked(chat)
            if kind == "unclear_twice" or self.rng.random() < 0.3:
                chat.wait(self.rng.uniform(10, 60))
                text = say(self.rng, source, language)
                self._message(chat, text, language, _unsure_parse([]), m.HANDOFF)
                if kind == "spike":
                    self._spiked(chat)
                chat.act("action_handoff", "Je transmets à une personne.", False)
                self._hand_over(chat, language, "misunderstood")
        elif kind == "out_of_scope":
            self._message(
                chat,
                say(self.rng, "out_of_scope", language),
                language,
                _intent_parse("out_of_scope"),
                m.OUT_OF_SCOPE,
            )
            chat.act(
                "action_out_of_scope", "Je ne peux répondre qu'au sujet du rappel."
            )
        elif kind == "foreign":
            text = self.rng.choice(self.scenario.texts["foreign"])
            self._message(
                chat,
                text,
                "other",
                _intent_parse(
                    "nlu_fallback",
                    gate={
                        "answer": False,
                        "reason": "foreign_language",
                        "candidates": [],
                    },
                ),
                m.DECLINED,
            )
            chat.act("action_clarify", "Désolé, je ne réponds qu'en français.", True)
        else:  # human, angry, sick: handed to the team at once
            reason = HANDOFF_REASONS[kind]
            escalation = (
                {}
                if kind == "human"
                else {
                    "escalation": {
                        "reason": reason,
                        "priority": REASON_PRIORITIES[reason],
                    }
                }
            )
            intent = "request_human" if kind == "human" else "faq"
            self._message(
                chat,
                say(self.rng, kind, language),
                language,
                _intent_parse(intent, **escalation),
                m.HANDOFF,
            )
            self.truth.angry_texts += kind == "angry"
            chat.act("action_handoff", "Je transmets à une personne.", False)
            self._hand_over(chat, language, reason)
        return chat

    def _spiked(self, chat: _Conversation) -> None:
        at = chat.events[-1]["timestamp"]
        start = datetime.fromtimestamp(at, tz=timezone.utc)
        key = start.replace(
            minute=start.minute - start.minute % m.BUCKET_MINUTES,
            second=0,
            microsecond=0,
        ).isoformat()
        self.truth.spike_messages += 1
        self.truth.spike_buckets[key] += 1

    def plan(self) -> list[tuple[datetime, str]]:
        """When each conversation starts, and what it is."""
        kinds = list(MIXTURE)
        weights = [MIXTURE[kind] for kind in kinds]
        starts = [
            (self._start_time(), self.rng.choices(kinds, weights)[0])
            for _ in range(self.conversations)
        ]
        # The new question: from spike_at on, at a steady rate.
        at = self.spike_at
        while at < self.end:
            at += timedelta(seconds=self.rng.expovariate(self.spike_per_hour / 3600))
            if at < self.end:
                starts.append((at, "spike"))
        return sorted(starts)

    # --- into the stores ------------------------------------------------------

    def write(
        self, *, session: Session, tracker_url: str | None, broker_url: str | None
    ) -> Truth:
        """Writes every conversation's events to the tracker store and to the
        event broker's table (each when given; the watcher reads the tracker
        store's table when there is no broker), and the tickets into
        `session`."""
        if tracker_url is None and broker_url is None:
            raise ValueError("Nowhere to write events: no tracker store, no broker.")
        broker, tracker = (
            _engine(broker_url) if broker_url else None,
            _engine(tracker_url) if tracker_url else None,
        )
        try:
            # Rasa's own tables, as Rasa creates them.
            if broker is not None:
                _broker.create_all(broker)
            if tracker is not None:
                _rasa.create_all(tracker)
            pending: list[tuple[str, dict[str, Any]]] = []
            for at, kind in self.plan():
                chat = self.conversation(kind, at)
                pending += [(chat.sender, event) for event in chat.events]
                if len(pending) >= BATCH:
                    self._flush(pending, broker, tracker)
                    pending = []
            self._flush(pending, broker, tracker)
        finally:
            for engine in (broker, tracker):
                if engine is not None:
                    engine.dispose()
        kept = [
            self._as_of_end(ticket)
            for ticket in self.tickets
            if ticket.created_at < self.end
        ]
        session.add_all(kept)
        session.flush()
        session.add_all(
            self._survey(ticket)
            for ticket in kept
            if ticket.status == CLOSED and id(ticket) in self.ratings
        )
        return self.truth

    def _survey(self, ticket: Ticket) -> Survey:
        """The question asked once the ticket closed, and any answer."""
        rating = self.ratings[id(ticket)]
        return Survey(
            ticket_id=ticket.id,
            conversation_id=ticket.conversation_id,
            agent=ticket.agent,
            reason=ticket.reason,
            channel=ticket.channel,
            language=ticket.language,
            scale=STARS,
            asked_at=ticket.closed_at,
            rating=rating,
            answered_at=(
                None if rating is None else ticket.closed_at + timedelta(minutes=1)
            ),
        )

    def _as_of_end(self, ticket: Ticket) -> Ticket:
        """A ticket as it stood at the end of the day: a day that ends now
        leaves people waiting, or talking with an agent, in the queue."""
        if ticket.closed_at is None or ticket.closed_at < self.end:
            return ticket
        ticket.closed_at = None
        ticket.updated_at = ticket.created_at
        if ticket.first_reply_at is not None and ticket.first_reply_at >= self.end:
            ticket.first_reply_at = None
        if ticket.claimed_at is not None and ticket.claimed_at >= self.end:
            ticket.claimed_at, ticket.agent = None, None
        ticket.status = WAITING if ticket.claimed_at is None else ASSIGNED
        return ticket

    def _flush(
        self,
        pending: list[tuple[str, dict[str, Any]]],
        broker: sa.engine.Engine | None,
        tracker: sa.engine.Engine | None,
    ) -> None:
        # Nothing after the end of the day (a day that ends now has no future).
        pending = [item for item in pending if item[1]["timestamp"] < self.end_stamp]
        if not pending:
            return
        self.truth.events += len(pending)
        # The broker publishes in time order across conversations; so does
        # the tracker store when the watcher reads it (no broker).
        ordered = sorted(pending, key=lambda item: item[1]["timestamp"])
        if broker is None:
            pending = ordered
        else:
            with broker.begin() as connection:
                connection.execute(
                    sa.insert(broker_events),
                    [
                        {
                            "sender_id": sender,
                            "data": json.dumps({"sender_id": sender, **event}),
                        }
                        for sender, event in ordered
                    ],
                )
        if tracker is not None:
            with tracker.begin() as connection:
                connection.execute(
                    sa.insert(tracker_events),
                    [
                        {
                            "sender_id": sender,
                            "type_name": event["event"],
                            "timestamp": event["timestamp"],
                            "intent_name": (
                                (event.get("parse_data") or {}).get("intent") or {}
                            ).get("name"),
                            "action_name": event.get("name"),
                            "data": json.dumps(event),
                        }
                        for sender, event in pending
                    ],
                )
