"""Which language a message is written in: French, English, or neither.

Two questions, two tools:

* French or English? A small naive Bayes model over character n-grams,
  trained with the assistant on its own examples (each example block carries
  `lang: fr|en` in its metadata). It knows the domain's words and typos
  ("rembourssement", "numero de lot", "thx") where general-purpose detectors
  guess wrong on short chat messages. When the message is too short to tell,
  it says so and the conversation keeps its previous language.
* Another language altogether (German, Arabic...)? A script check, then the
  lingua detector over a handful of European languages, trusted only for
  messages of several words.

`LanguageDetector` wraps both as a Rasa component: it adds a `language`
entity (which fills the `language` slot, so responses come in that language)
and a `language` property with the details.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

LANGUAGES = ("fr", "en")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Posterior probability needed to call a message French or English.
DECISION_PROBABILITY = 0.85
# How many n-grams' worth of evidence one word counts for (see probability_english).
EVIDENCE_PER_WORD = 4.0
# Foreign-language detection is only trusted on messages this long.
FOREIGN_MIN_WORDS = 3
FOREIGN_MIN_CONFIDENCE = 0.6


def words(text: str) -> list[str]:
    """The lower-cased words (letters only) of `text`."""
    return _WORD.findall(text.lower())


def features(text: str) -> list[str]:
    """Character 1-4-grams of each padded word, plus the words themselves."""
    result: list[str] = []
    for word in words(text):
        padded = f" {word} "
        for size in range(1, 5):
            result.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
        result.append(f"w:{word}")
    return result


@dataclass
class FrenchEnglishModel:
    """Multinomial naive Bayes over `features`, with equal class priors."""

    counts: dict[str, dict[str, int]]
    alpha: float = 0.5

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]]) -> FrenchEnglishModel:
        """Trains on (text, language) pairs; languages other than fr/en are ignored."""
        counts: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
        for text, language in examples:
            if language in counts:
                counts[language].update(features(text))
        return cls(counts={lang: dict(c) for lang, c in counts.items()})

    def probability_english(self, text: str) -> float | None:
        """P(English | text), or None when the text has no words."""
        feats = features(text)
        if not feats:
            return None
        vocabulary = self._vocabulary
        scores = {}
        for language, counts in self.counts.items():
            denominator = self._denominators[language]
            scores[language] = sum(
                math.log(counts.get(f, 0) + self.alpha) - denominator
                for f in feats
                if f in vocabulary
            )
        # The n-grams of one word are far from independent: count the evidence
        # per word, so that a single short word stays uncertain.
        per_feature = (scores["fr"] - scores["en"]) / len(feats)
        difference = per_feature * len(words(text)) * EVIDENCE_PER_WORD
        return 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, difference))))

    @cached_property
    def _vocabulary(self) -> frozenset[str]:
        # Worked out once: the union of both languages' n-grams took longer
        # than the rest of the detection (issue 29).
        return frozenset().union(*(c.keys() for c in self.counts.values()))

    @cached_property
    def _denominators(self) -> dict[str, float]:
        size = len(self._vocabulary) or 1
        return {
            language: math.log(sum(counts.values()) + self.alpha * size)
            for language, counts in self.counts.items()
        }

    def known_word_share(self, text: str) -> float:
        """The share of the words of `text` seen in training (0.0 without words)."""
        message_words = words(text)
        if not message_words:
            return 0.0
        known = sum(
            1
            for word in message_words
            if any(f"w:{word}" in counts for counts in self.counts.values())
        )
        return known / len(message_words)

    def in_both(self, text: str) -> bool:
        """Whether `text` is one word that both languages' examples use."""
        message_words = words(text)
        return len(message_words) == 1 and all(
            f"w:{message_words[0]}" in counts for counts in self.counts.values()
        )

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "alpha": self.alpha}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrenchEnglishModel:
        return cls(counts=data["counts"], alpha=data.get("alpha", 0.5))


def is_mostly_non_latin(text: str) -> bool:
    """True when most letters are not Latin (Arabic, Cyrillic, CJK...)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    non_latin = sum(1 for ch in letters if "LATIN" not in unicodedata.name(ch, ""))
    return non_latin / len(letters) > 0.5


@lru_cache(maxsize=1)
def _lingua_detector() -> Any:
    # Imported and built on first use: loading lingua's models takes a moment.
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(
        Language.FRENCH,
        Language.ENGLISH,
        Language.GERMAN,
        Language.SPANISH,
        Language.ITALIAN,
        Language.PORTUGUESE,
        Language.DUTCH,
    ).build()


def is_foreign(text: str) -> bool:
    """True when `text` is clearly in a language other than French or English."""
    if is_mostly_non_latin(text):
        return True
    if len(words(text)) < FOREIGN_MIN_WORDS:
        return False
    best = _lingua_detector().compute_language_confidence_values(text)[0]
    return (
        best.language.iso_code_639_1.name.lower() not in LANGUAGES
        and best.value >= FOREIGN_MIN_CONFIDENCE
    )


@dataclass(frozen=True)
class Detection:
    """The outcome for one message."""

    language: str | None  # "fr", "en", or None when it cannot be told
    foreign: bool  # written in another language
    probability_english: float | None
    known_word_share: float  # share of its words seen in training


def detect(text: str, model: FrenchEnglishModel) -> Detection:
    """Detects the language of one message."""
    known = model.known_word_share(text)
    if is_foreign(text):
        return Detection(
            language=None,
            foreign=True,
            probability_english=None,
            known_word_share=known,
        )
    p_en = model.probability_english(text)
    language = None
    if known == 0.0 and len(words(text)) < FOREIGN_MIN_WORDS:
        # One or two words never seen in training ("bof", "mdr"): too little
        # to switch the conversation's language on.
        pass
    elif model.in_both(text):
        # One word the examples use in both languages ("stop", "ok"): it
        # says nothing of the language; the conversation keeps its own.
        pass
    elif p_en is not None and p_en >= DECISION_PROBABILITY:
        language = "en"
    elif p_en is not None and p_en <= 1 - DECISION_PROBABILITY:
        language = "fr"
    return Detection(
        language=language,
        foreign=False,
        probability_english=p_en,
        known_word_share=known,
    )
