"""`relais faq lint`: what an editor must fix before the pack is published.

Errors (the exit code is 1): a file that does not parse, a missing language
(examples, answer or title), an answer too long for a channel Relais serves,
the same example under two topics, a topic without an owner or review date.
Warnings (reported, exit code 0): fewer examples than answer most questions
directly (a pack written at hour one of a crisis has one question and two
rephrasings per topic: it is published, and grows from what people ask),
examples of two topics that mean nearly the same (the sentence encoder of
bot/nlu/encoder.py, the one the topic model reads), answers long
for a chat bubble, a review-by date in the past (a date must never break a
build by itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bot.faq.pack import LANGUAGES, FaqError, Topic, parse_topic_file
from bot.nlu import encoder

# Below this, a topic is answered directly less often (issue 10: with three
# examples per topic and language about 57 % of questions get a direct answer,
# with eight about 77 %, docs/benchmarks.md).
RECOMMENDED_EXAMPLES = {"fr": 8, "en": 5}
# Facebook Messenger, the strictest messaging channel Relais may serve, takes
# 2,000 characters per message; past 1,000 a chat bubble is hard to read.
MAX_ANSWER = 2000
LONG_ANSWER = 1000
# Two examples of different topics whose sentence vectors are this similar
# (cosine) mean nearly the same thing: on the phrasings of the shipped packs
# and of ../shared/dev-data's five sets (training rows only), at most 2 pairs
# of different topics in 10,000 reach it, and of the pairs that do, 83 to
# 100 % are two phrasings of one topic (issue 27).
NEAR_DUPLICATE = 0.8
ERROR, WARNING = "error", "warning"

# Turns texts into unit vectors (one row each); the sentence encoder's by
# default (bot/nlu/encoder.py caches them per process: the console lints the
# whole pack on every save).
Vectorize = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Finding:
    """One problem of a topic: `template` with `values` put in (the console
    says it in the editor's language, bot/console/i18n.py)."""

    level: str  # "error" or "warning"
    topic: str
    template: str
    values: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def message(self) -> str:
        return self.template.format(**self.values) if self.values else self.template

    def __str__(self) -> str:
        return f"{self.level:<7} {self.topic}: {self.message}"


def _normalise(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def _topic_findings(topic: Topic, today: date) -> Iterable[Finding]:
    key = topic.key
    for language in LANGUAGES:
        count = len(topic.examples.get(language, []))
        if count == 0:
            yield Finding(ERROR, key, "no {language} examples", {"language": language})
        elif count < (wanted := RECOMMENDED_EXAMPLES[language]):
            yield Finding(
                WARNING, key,
                "{count} {language} examples: with {wanted} or more, more questions get a direct answer (add the phrasings people use)",  # noqa: E501
                {"count": count, "language": language, "wanted": wanted},
            )  # fmt: skip
        answer = topic.answers.get(language, "").strip()
        if not answer:
            yield Finding(ERROR, key, "no {language} answer", {"language": language})
        elif len(answer) > MAX_ANSWER:
            yield Finding(
                ERROR, key,
                "{language} answer has {n} characters; channels such as Messenger take {most}",  # noqa: E501
                {"language": language, "n": len(answer), "most": MAX_ANSWER},
            )  # fmt: skip
        elif len(answer) > LONG_ANSWER:
            yield Finding(
                WARNING, key,
                "{language} answer has {n} characters: long for a chat",
                {"language": language, "n": len(answer)},
            )  # fmt: skip
        if not topic.titles.get(language):
            yield Finding(ERROR, key, "no {language} title", {"language": language})
    if not topic.owner:
        yield Finding(ERROR, key, "no owner (who answers for this content?)")
    if topic.review_by is None:
        yield Finding(ERROR, key, "no review_by date")
    elif topic.review_by < today:
        yield Finding(
            WARNING, key,
            "review_by {day} has passed: check the facts",
            {"day": topic.review_by.isoformat()},
        )  # fmt: skip


def _duplicates(
    topics: list[Topic], vectorize: Vectorize, threshold: float
) -> Iterable[Finding]:
    examples = [
        (topic.key, text)
        for topic in topics
        for texts in topic.examples.values()
        for text in texts
    ]
    first_seen: dict[str, str] = {}
    for key, text in examples:
        other = first_seen.setdefault(_normalise(text), key)
        if other != key:
            yield Finding(
                ERROR, key, "“{text}” is also an example of {other}",
                {"text": text, "other": other},
            )  # fmt: skip
    if not examples:
        return
    vectors = vectorize([text for _, text in examples])
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    vectors = vectors / norms[:, None]
    similarity = vectors @ vectors.T
    keys = np.array([key for key, _ in examples])
    different_topic = keys[:, None] != keys[None, :]
    for i, j in np.argwhere((similarity >= threshold) & different_topic):
        if i < j and _normalise(examples[i][1]) != _normalise(examples[j][1]):
            yield Finding(
                WARNING, examples[i][0],
                "“{text}” is very close to “{other_text}” ({other}, similarity {value})",  # noqa: E501
                {"text": examples[i][1], "other_text": examples[j][1],
                 "other": examples[j][0], "value": f"{similarity[i, j]:.2f}"},
            )  # fmt: skip


def lint_pack(
    faq_dir: Path,
    today: date | None = None,
    vectorize: Vectorize = encoder.encode,
    threshold: float = NEAR_DUPLICATE,
) -> list[Finding]:
    """Every finding for the pack in `faq_dir`, errors first."""
    today = today or date.today()
    findings: list[Finding] = []
    topics = []
    for path in sorted(faq_dir.glob("*.yml")):
        try:
            topics.append(parse_topic_file(path))
        except FaqError as error:
            findings.append(Finding(ERROR, path.stem, str(error)))
    if not topics:
        findings.append(Finding(ERROR, str(faq_dir), "no topic file (*.yml)"))
    for topic in topics:
        findings.extend(_topic_findings(topic, today))
    findings.extend(_duplicates(topics, vectorize, threshold))
    return sorted(findings, key=lambda f: (f.level != ERROR, f.topic))


def lint_topic(
    topic: Topic, others: list[Topic], today: date | None = None
) -> list[Finding]:
    """The findings about `topic` among the pack's `others`, errors first.

    Fast enough to run as an editor types: the near-duplicate check (sentence
    vectors of the whole pack) is left to the full lint, run on every save.
    """

    def no_vectors(texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 1))

    findings = list(_topic_findings(topic, today or date.today()))
    # The topic comes last, so an example it shares is reported against it.
    findings += [
        finding
        for finding in _duplicates([*others, topic], no_vectors, threshold=2.0)
        if finding.topic == topic.key
    ]
    return sorted(findings, key=lambda f: f.level != ERROR)
