"""Graceful overload: who is handled now, who waits, and what the waiting hear.

When more people write than one Rasa process can answer, Rasa starts every
message at once and they all slow down together: everyone waits, nobody is
told anything. Here (bot/channels/guard.py's guard, for REST and socket.io):

- At most `max_in_progress` messages are handled at once (RELAIS_MAX_IN_PROGRESS,
  8 by default: enough to keep the processor busy while some wait for the
  action server). The others wait in line, in order of arrival, except that
  a message that looks urgent (health, self-harm) goes to the front.
- A person who has had no answer after `holding_reply_seconds`
  (RELAIS_HOLDING_REPLY_SECONDS, 3 by default), or who would not have one
  by then (the line ahead at the pace of the last seconds, plus the measured
  time a message takes once its turn comes), gets a short reply in their
  language at once: the message is received and handled, many people are
  writing, and the holding statement when one is published. Their message
  keeps its place in line and is handled like any other (recorded, answered,
  handed to a human when it should be); on socket.io the answer follows in
  the same chat, on REST (one request, one response) the reply says to ask
  again if no answer came.
- Nothing is dropped: the line has no length limit, and a person whose
  connection closed is still handled.

"Looks urgent" is only about the order of the line, so it is a word list
(the health and self-harm words of bot/nlu/triggers.py and more, in both
languages, with and without accents) that costs microseconds: a false alarm
only moves a message forward, and the NLU pipeline still decides, with its
full detector, what the message is.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import re
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.nlu.language import words
from bot.nlu.triggers import SYMPTOM_SEEDS, fold

logger = logging.getLogger(__name__)

HOLDING_RESPONSE = "utter_busy"
HOLDING_RESPONSE_ASK_AGAIN = "utter_busy_ask_again"
HELD_KEY = "relais_holding_reply_after"

# Stems, lower case, without accents.
URGENT_STEMS = (
    # health, French
    "vomi", "diarrh", "fievr", "nause", "malad", "malais", "hopita", "urgenc",
    "samu", "medecin", "docteur", "pompier", "intoxi", "empoisonn", "douleur",
    "saign", "sang", "convuls", "respir", "evanoui", "brulant", "migrain",
    "courbatur", "crampe", "vertig", "enceinte", "listerio",
    # health, English
    "vomit", "puk", "sick", "fever", "nause", "hospital", "emergenc",
    "doctor", "poison", "pain", "bleed", "blood", "seizure", "breath",
    "faint", "pregnan", "ambulance", "cramp", "dizz",
    # self-harm, both
    "suicid", "tuer", "mourir", "kill", "die", "dying", "overdose",
)  # fmt: skip
_URGENT = re.compile(
    r"^(" + "|".join(sorted(set(URGENT_STEMS) | {s[:5] for s in SYMPTOM_SEEDS})) + ")"
)

# The commonest words of each language, for the holding reply's language
# when the trained detector (in the NLU pipeline) has not run yet.
_ENGLISH = frozenset((
    "the", "a", "an", "is", "are", "was", "my", "i", "you", "your", "what",
    "when", "where", "how", "which", "who", "why", "can", "do", "does", "did",
    "it", "this", "that", "of", "to", "in", "on", "for", "with", "not", "have",
    "has", "and", "or", "please", "hello", "hi", "thanks",
))  # fmt: skip
_FRENCH = frozenset((
    "le", "la", "les", "un", "une", "des", "du", "de", "est", "sont", "je",
    "j", "mon", "ma", "mes", "vous", "votre", "vos", "quoi", "quand", "ou",
    "comment", "quel", "quelle", "quels", "quelles", "qui", "pourquoi", "ce",
    "cette", "pas", "ne", "avec", "pour", "dans", "sur", "et", "ai", "suis",
    "bonjour", "merci",
))  # fmt: skip


def looks_urgent(text: str) -> bool:
    """Whether a message may be about someone's health or life (for the
    order of the line only)."""
    return any(_URGENT.match(word) for word in words(fold(text)))


def guess_language(text: str, default: str = "fr") -> str:
    """French or English from the commonest words; `default` when unclear."""
    english = french = 0
    for word in words(text):
        english += word in _ENGLISH
        french += word in _FRENCH
    if english > french:
        return "en"
    if french > english:
        return "fr"
    return default


# Ranks in the line, first served first.
URGENT_RANK, FRESH_RANK, HELD_RANK = 0, 1, 2


class Place:
    """One message's place in the line."""

    def __init__(self, key: str, urgent: bool) -> None:
        self.key = key  # the conversation
        self.rank = URGENT_RANK if urgent else FRESH_RANK
        self.arrival = 0
        self.turn: asyncio.Future[None] | None = None  # while in line
        self.started = False


class Admission:
    """At most `limit` messages handled at once; the others wait in line.

    Urgent messages first, then fresh ones, then those whose person already
    had a holding reply on a channel that cannot take the answer later
    (REST): handling them still records them, hands them to a human when
    needed, but nobody is waiting for their answer any more. Within a rank,
    in order of arrival. One person's messages are handled in the order they
    were written: an urgent message takes the earlier waiting messages of its
    conversation to the front with it, and a new message of a conversation
    whose earlier ones were held waits with them (otherwise a person writing
    again would pull their whole backlog ahead of everyone).

    Under a surge the line holds thousands of messages: every operation
    costs a heap push or pop and a look at the message's own conversation,
    never a pass over the line (a moved message leaves a stale heap entry,
    skipped when it comes up).
    """

    # How far back the pace of the line is measured.
    PACE_SECONDS = 10.0

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_progress = 0
        self._heap: list[tuple[int, int, Place]] = []
        self._waiting = [0, 0, 0]  # per rank
        self._conversations: dict[str, list[Place]] = {}
        self._arrivals = itertools.count()
        # (when it finished, how long it took from its turn) of the messages
        # of the last PACE_SECONDS: the pace of the line and the service time.
        self._served: deque[tuple[float, float]] = deque()

    @property
    def waiting(self) -> int:
        return sum(self._waiting)

    def expected_wait(self, rank: int) -> float:
        """Seconds a message of `rank` arriving now would wait for its turn,
        at the pace of the last few seconds (0 when nobody waits)."""
        ahead = sum(self._waiting[: rank + 1])
        if not ahead:
            return 0.0
        served = self._recent()
        if len(served) < 2:
            return float("inf")  # nothing finished lately: a long wait
        per_second = len(served) / max(time.monotonic() - served[0][0], 0.001)
        return ahead / per_second

    def service_time(self) -> float:
        """Median seconds a message took from its turn to its answer, over
        the last few seconds (0 when none finished lately)."""
        served = self._recent()
        return statistics.median(s for _, s in served) if served else 0.0

    def _recent(self) -> deque[tuple[float, float]]:
        """The messages finished in the last PACE_SECONDS (older ones dropped)."""
        since = time.monotonic() - self.PACE_SECONDS
        while self._served and self._served[0][0] < since:
            self._served.popleft()
        return self._served

    def expected_answer(self, rank: int) -> float:
        """Seconds until a message of `rank` arriving now would be answered:
        its wait for a turn, then the measured service time."""
        return self.expected_wait(rank) + self.service_time()

    @asynccontextmanager
    async def turn(self, place: Place) -> AsyncIterator[None]:
        """Waits for this message's turn; the slot is freed on leaving."""
        if self.in_progress < self.limit and not self.waiting:
            self.in_progress += 1
        else:
            place.turn = asyncio.get_running_loop().create_future()
            place.arrival = next(self._arrivals)
            self._enter(place)
            try:
                await place.turn
            except asyncio.CancelledError:
                if place.turn.done() and not place.turn.cancelled():
                    self._next()  # the slot was handed over: pass it on
                else:
                    self._leave(place)
                    place.turn.cancel()
                raise
        place.started = True
        started = time.monotonic()
        try:
            yield
        finally:
            finished = time.monotonic()
            self._served.append((finished, finished - started))
            self._next()

    def move(self, place: Place, rank: int) -> None:
        """Gives a message another rank (nothing once it has started)."""
        if place.started:
            return
        if place.turn is None:  # not in line yet
            place.rank = rank
            return
        if place.turn.done():
            return
        # Never behind a later message of its own conversation.
        later = [
            other.rank
            for other in self._conversations.get(place.key, [])
            if other.arrival > place.arrival
        ]
        self._rank(place, min([rank, *later]))
        self._keep_conversation_order(place)

    def behind_held(self, key: str) -> bool:
        """Whether the conversation has messages waiting that were already
        given a holding reply: a new message of it comes after them."""
        return any(o.rank == HELD_RANK for o in self._conversations.get(key, []))

    def _enter(self, place: Place) -> None:
        if place.rank != URGENT_RANK and self.behind_held(place.key):
            # Behind its own conversation's held messages whatever happens:
            # it takes their rank instead of pulling them forward.
            place.rank = HELD_RANK
        self._waiting[place.rank] += 1
        heapq.heappush(self._heap, (place.rank, place.arrival, place))
        self._conversations.setdefault(place.key, []).append(place)
        self._keep_conversation_order(place)

    def _leave(self, place: Place) -> None:
        self._waiting[place.rank] -= 1
        same = self._conversations[place.key]
        same.remove(place)
        if not same:
            del self._conversations[place.key]

    def _rank(self, place: Place, rank: int) -> None:
        if rank == place.rank:
            return
        self._waiting[place.rank] -= 1
        self._waiting[rank] += 1
        place.rank = rank
        heapq.heappush(self._heap, (rank, place.arrival, place))

    def _keep_conversation_order(self, place: Place) -> None:
        """Earlier messages of the conversation go no later than `place`."""
        for other in self._conversations.get(place.key, []):
            if other.arrival < place.arrival and other.rank > place.rank:
                self._rank(other, place.rank)

    def _next(self) -> None:
        """Hands the freed slot to the first in line, or frees it."""
        while self._heap:
            rank, _, place = heapq.heappop(self._heap)
            if rank != place.rank or place.turn is None or place.turn.done():
                continue  # moved since, or left the line
            self._leave(place)
            place.turn.set_result(None)
            return
        self.in_progress -= 1


class StatementCache:
    """The holding statement, read from the database at most every few
    seconds (under overload, every held person would read it)."""

    SECONDS = 5.0

    def __init__(self) -> None:
        self._read: dict[str, tuple[float, str | None]] = {}

    def get(self, language: str) -> str | None:
        from bot.faq.statement import statement_for
        from bot.settings import get_settings

        now = time.monotonic()
        read_at, text = self._read.get(language, (-self.SECONDS, None))
        if now - read_at >= self.SECONDS:
            text = statement_for(get_settings(), language)
            self._read[language] = (now, text)
        return text


def holding_messages(
    render: Any, language: str, statement: str | None, answer_follows: bool
) -> list[str]:
    """The holding reply: received, handled, the statement when there is one.

    Args:
        render: `render(response_name, language)` -> the domain response's text.
        answer_follows: The channel can push the answer later (socket.io);
            otherwise the person is told to ask again if none comes.
    """
    response = HOLDING_RESPONSE if answer_follows else HOLDING_RESPONSE_ASK_AGAIN
    messages = [render(response, language)]
    if statement:
        messages.append(statement)
    return messages
