"""What the bot could not answer, grouped by meaning, and the spikes among it.

A gap is a message the bot offered "did you mean" buttons for, declined,
handed to a human or found out of scope (plain requests for a human and
small talk aside). Gaps are grouped by meaning: identical phrasings
(case and accents aside) are counted once; each phrasing's sentence vector
(bot/nlu/encoder.py: computed by the Rasa process when it parsed the
message and kept with its fact; encoded here only for messages from before
that) is grouped by scikit-learn's Birch, whose global step is an
average-linkage agglomerative clustering stopped at `DISTANCE_THRESHOLD`
(cosine). The encoder is multilingual: "l'usine va fermer ?" and "is the
factory closing?" usually fall in one group (the generated day's new
question: 10 of its 13 French and English phrasings). Each group has its
size, its count per hour, a few phrasings (e-mail addresses and phone
numbers were removed when recorded), the nearest FAQ topic and whether it
is growing.

A spike is a group with at least `SPIKE_MIN_MESSAGES` messages in the last
15 minutes, `SPIKE_FACTOR` times its own rate over the 3 hours before.
`spikes.py` checks for spikes every 5 minutes.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sklearn.cluster import AgglomerativeClustering, Birch
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.faq.pack import Topic
from bot.insights.models import GAP_OUTCOMES, MessageFact
from bot.nlu import encoder

# Chosen on training phrasings (the shipped packs' examples, COVID-Q's and
# banking77's; docs/benchmarks.md, "Meaning elsewhere"): the distance that
# groups them best by topic (B-cubed F1, mean over the four: 0.43 at 0.55,
# 0.42 at 0.6, 0.39 at 0.65; spaCy and n-grams before issue 27: 0.34 at
# 0.6). Birch's radius bounds the time: on the encoder's vectors, 0.45
# grouped 50,000 distinct messages in 90 s (issue 12's limit: 60 s) and
# 20,000 in 16 s; 0.65 groups 20,000 in 9 s at a mean F1 of 0.39 (0.42 at
# 0.45), still above spaCy and n-grams'.
DISTANCE_THRESHOLD = 0.55
BIRCH_THRESHOLD = 0.65
RECENT = timedelta(minutes=15)
BASELINE = timedelta(hours=3)
SPIKE_MIN_MESSAGES = 10
SPIKE_FACTOR = 3.0
EXAMPLES = 5
# Messages that are not questions: nothing an FAQ topic could answer.
NOT_QUESTIONS = (
    "request_human",
    "greet",
    "goodbye",
    "thanks",
    "bot_challenge",
    "insult",
)
MAX_MESSAGES = 100_000


@dataclass(frozen=True)
class Gap:
    text: str
    language: str
    at: datetime
    meaning: str | None = None  # bot.nlu.encoder.to_text, from the Rasa process


@dataclass
class Group:
    """Unanswered messages about one thing."""

    size: int
    phrasings: list[tuple[str, int]]  # (phrasing, how many times), most first
    languages: Counter[str]
    per_hour: dict[datetime, int]
    recent: int
    baseline: float  # messages per 15 minutes before the recent ones
    nearest_topic: str | None
    similarity: float
    first_at: datetime
    last_at: datetime
    keys: set[str] = field(default_factory=set)  # folded phrasings

    @property
    def label(self) -> str:
        return self.phrasings[0][0]

    @property
    def growing(self) -> bool:
        return self.recent >= 3 and self.recent > 2 * self.baseline

    @property
    def spike(self) -> bool:
        return self.recent >= SPIKE_MIN_MESSAGES and self.recent >= SPIKE_FACTOR * max(
            self.baseline, 1.0
        )

    @property
    def examples(self) -> list[str]:
        return [text for text, _ in self.phrasings[:EXAMPLES]]


def fold(text: str) -> str:
    """Lower case, accents removed, spaces tidied: "Congélation" -> "congelation".
    Two messages that fold alike are one phrasing."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return " ".join(
        "".join(c for c in decomposed if not unicodedata.combining(c)).split()
    )


def read_gaps(session: Session, start: datetime, end: datetime) -> list[Gap]:
    """The unanswered questions written in [start, end), newest first."""
    rows = session.execute(
        select(
            MessageFact.text, MessageFact.language, MessageFact.at, MessageFact.meaning
        )
        .where(
            MessageFact.outcome.in_(GAP_OUTCOMES),
            MessageFact.at >= start,
            MessageFact.at < end,
            MessageFact.intent.notin_(NOT_QUESTIONS),
        )
        .order_by(MessageFact.at.desc())
        .limit(MAX_MESSAGES)
    ).all()
    return [Gap(*row) for row in rows if row.text.strip()]


def cluster(vectors: np.ndarray) -> np.ndarray:
    """A group number per row."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    final = AgglomerativeClustering(
        n_clusters=None,
        distance_threshold=DISTANCE_THRESHOLD,
        linkage="average",
        affinity="cosine",
    )
    return np.asarray(
        Birch(threshold=BIRCH_THRESHOLD, n_clusters=final).fit_predict(vectors)
    )


def _topic_texts(pack: dict[str, Topic]) -> tuple[list[str], list[str]]:
    texts, keys = [], []
    for key, topic in pack.items():
        for examples in topic.examples.values():
            texts += examples
            keys += [key] * len(examples)
    return texts, keys


def _stored_vector(gaps: list[Gap]) -> np.ndarray | None:
    """The vector a message of this phrasing arrived with, if any did."""
    for gap in gaps:
        vector = encoder.from_text(gap.meaning)
        if vector is not None:
            return vector
    return None


def vectors_of(phrasings: list[list[Gap]]) -> np.ndarray:
    """One unit vector per phrasing: the one a message of it arrived with,
    else its text encoded now (messages from before the vectors were kept)."""
    found = [_stored_vector(gaps) for gaps in phrasings]
    missing = [i for i, vector in enumerate(found) if vector is None]
    encoded = iter(encoder.encode([phrasings[i][0].text for i in missing]))
    return np.array(
        [vector if vector is not None else next(encoded) for vector in found],
        dtype=np.float32,
    ).reshape(len(phrasings), encoder.dimensions())


def group_gaps(gaps: list[Gap], pack: dict[str, Topic], now: datetime) -> list[Group]:
    """Groups `gaps` by meaning; largest recent growth first, then size."""
    if not gaps:
        return []
    by_key: dict[str, list[Gap]] = defaultdict(list)
    for gap in gaps:
        by_key[fold(gap.text)].append(gap)
    keys = list(by_key)
    topic_texts, topic_keys = _topic_texts(pack)
    phrasing_vectors = vectors_of([by_key[key] for key in keys])
    topic_vectors = (
        encoder.encode(topic_texts)
        if topic_texts
        else np.zeros((0, phrasing_vectors.shape[1]), dtype=np.float32)
    )
    labels = cluster(phrasing_vectors)
    topics = sorted(set(topic_keys))
    centroids = (
        np.array(
            [
                topic_vectors[[i for i, k in enumerate(topic_keys) if k == topic]].mean(
                    axis=0
                )
                for topic in topics
            ]
        )
        if topics
        else np.zeros((0, phrasing_vectors.shape[1]))
    )
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[int(label)].append(index)
    groups = []
    for indexes in members.values():
        group_gaps_ = [gap for i in indexes for gap in by_key[keys[i]]]
        centroid = phrasing_vectors[indexes].mean(axis=0)
        nearest, similarity = None, 0.0
        if len(centroids):
            scores = centroids @ centroid / (np.linalg.norm(centroid) or 1.0)
            best = int(np.argmax(scores))
            nearest = topics[best]
            similarity = float(scores[best] / (np.linalg.norm(centroids[best]) or 1.0))
        groups.append(
            _describe(
                group_gaps_,
                [keys[i] for i in indexes],
                by_key,
                nearest,
                similarity,
                now,
            )
        )
    groups.sort(key=lambda group: (group.spike, group.recent, group.size), reverse=True)
    return groups


def _describe(
    gaps: list[Gap],
    keys: list[str],
    by_key: dict[str, list[Gap]],
    nearest: str | None,
    similarity: float,
    now: datetime,
) -> Group:
    phrasings = sorted(
        ((by_key[key][0].text, len(by_key[key])) for key in keys),
        key=lambda item: -item[1],
    )
    per_hour: Counter[datetime] = Counter()
    recent = baseline = 0
    for gap in gaps:
        per_hour[gap.at.replace(minute=0, second=0, microsecond=0)] += 1
        if now - RECENT <= gap.at < now:
            recent += 1
        elif now - RECENT - BASELINE <= gap.at < now - RECENT:
            baseline += 1
    return Group(
        size=len(gaps),
        phrasings=phrasings,
        languages=Counter(gap.language for gap in gaps),
        per_hour=dict(per_hour),
        recent=recent,
        baseline=baseline / (BASELINE / RECENT),
        nearest_topic=nearest,
        similarity=similarity,
        first_at=min(gap.at for gap in gaps),
        last_at=max(gap.at for gap in gaps),
        keys=set(keys),
    )


def groups_between(
    session: Session, start: datetime, end: datetime, pack: dict[str, Topic]
) -> list[Group]:
    """The gaps of [start, end) grouped; "recent" means the last 15 minutes
    before `end`."""
    return group_gaps(read_gaps(session, start, end), pack, end)
