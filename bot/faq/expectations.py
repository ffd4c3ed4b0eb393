"""What an editor can expect of the pack as it stands, and where to add phrasings.

With N phrasings per topic and language, the gate holds the limits
calibrated for N (bot/nlu/calibration.py); across the calibration packs those
limits answered a known share of questions directly, with at most the target
share wrong. That share is what the editor can expect, give or take the pack.

The topics most likely to be confused are found by meaning: each example is
compared with every other example of the pack (sentence encoder,
bot/nlu/encoder.py); an example whose closest neighbour belongs to another
topic is one people's questions will also mistake. The topics with the most
such examples are where more phrasings, saying what sets the topic apart,
help most.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.faq.pack import Topic

# The confused topics an editor is shown.
MOST_CONFUSED = 3


@dataclass(frozen=True)
class Confusion:
    topic: str
    other: str  # the topic its examples are most often closest to
    examples: int  # of its examples closest to another topic
    of: int  # its examples


@dataclass(frozen=True)
class Expectation:
    phrasings: float  # median per topic and language
    calibrated_at: int
    target: float  # most wrong answers
    answered: float  # expected share of questions answered directly
    confused: tuple[Confusion, ...]

    def lines(self, gettext: Callable[..., str] | None = None) -> list[str]:
        """The expectation in words, for the lint and the console; `gettext`
        puts them in the editor's language (English by default)."""
        _ = gettext or (lambda text, **values: text.format(**values))
        lines = [
            _(
                "With {phrasings} phrasing(s) per topic and language, expect about {answered} of questions answered directly and rightly, at most {target} wrongly (the rest get “did you mean” or a human).",  # noqa: E501
                phrasings=f"{self.phrasings:g}",
                answered=f"{self.answered:.0%}",
                target=f"{self.target:.0%}",
            )
        ]
        if self.confused:
            lines.append(
                _(
                    "Most often confused: {topics}. Add phrasings that say what sets them apart.",  # noqa: E501
                    topics="; ".join(
                        _(
                            "{topic} ({n} of {of} examples closer to {other})",
                            topic=c.topic,
                            n=c.examples,
                            of=c.of,
                            other=c.other,
                        )
                        for c in self.confused
                    ),
                )
            )
        return lines


def confusions(topics: Sequence[Topic]) -> list[Confusion]:
    """Topics whose examples are closest to another topic's, most first."""
    from bot.nlu import encoder

    examples = [
        (topic.key, text)
        for topic in topics
        if topic.enabled
        for texts in topic.examples.values()
        for text in texts
    ]
    if len({key for key, _ in examples}) < 2:
        return []
    vectors = encoder.encode([text for _, text in examples])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    keys = [key for key, _ in examples]
    nearest = similarity.argmax(axis=1)
    per_topic = Counter(keys)
    crossed: dict[str, Counter[str]] = {}
    for row, column in enumerate(nearest):
        if keys[column] != keys[row]:
            crossed.setdefault(keys[row], Counter())[keys[column]] += 1
    found = [
        Confusion(
            key, others.most_common(1)[0][0], sum(others.values()), per_topic[key]
        )
        for key, others in crossed.items()
    ]
    return sorted(found, key=lambda c: (-c.examples / c.of, -c.examples, c.topic))


def expect(topics: Sequence[Topic], target: float = 0.03) -> Expectation:
    from bot.nlu.calibration import limits_for, median_phrasings

    phrasings = median_phrasings(
        len(texts) for topic in topics for texts in topic.examples.values()
    )
    limits = limits_for(phrasings, target)
    return Expectation(
        phrasings=phrasings,
        calibrated_at=limits.calibrated_at,
        target=target,
        answered=limits.expected_right,
        confused=tuple(confusions(topics)[:MOST_CONFUSED]),
    )
