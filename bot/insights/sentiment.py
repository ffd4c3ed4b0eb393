"""How negative, and how angry, each message is, in French and English.

English is scored by VADER (vaderSentiment: a lexicon of ~7,500 words rated
by people, with rules for negation, intensifiers, capitals and "!!"). French
is scored the same way from the French subjectivity lexicon of the Pattern
project (De Smedt & Daelemans, ~5,000 adjective forms, shipped in the
textblob-fr package, read directly: textblob-fr's own code no longer imports
on Python 3.10). Both get the crisis words of lexicon.yml on top.

Anger is counted separately: hostile words and insults (lexicon.yml), shouting
in capitals and repeated "!" or "?". A message is `angry` when its anger
reaches ANGER_THRESHOLD, else `negative` when its negativity reaches
NEGATIVE_THRESHOLD, else `neutral`. Both thresholds were chosen on
tests/sentiment/tuning.yml; precision and recall on the held-out
tests/sentiment/heldout.yml are in docs/benchmarks.md.
"""

from __future__ import annotations

import importlib.util
import math
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

NEGATIVE, ANGRY, NEUTRAL = "negative", "angry", "neutral"
# Chosen on tests/sentiment/tuning.yml (tests/test_sentiment.py checks them).
NEGATIVE_THRESHOLD = 0.15
ANGER_THRESHOLD = 0.3

LEXICON = Path(__file__).with_name("lexicon.yml")
WORD = re.compile(r"[^\W\d_]+(?:\*+)?", re.UNICODE)
# VADER's constants, for the French scorer.
_NEGATION_SCALAR = -0.74
_BOOST = 0.293
_ALPHA = 15
_FR_NEGATIONS = frozenset(
    {"pas", "plus", "jamais", "rien", "aucun", "aucune", "sans", "ni"}
)
_FR_BOOSTERS = frozenset(
    {
        "très",
        "vraiment",
        "trop",
        "tellement",
        "complètement",
        "absolument",
        "totalement",
        "franchement",
        "extrêmement",
        "si",
    }
)
# Chosen on tests/sentiment/tuning.yml, like the thresholds.
PATTERN_MIN_POLARITY = 0.3
SHOUTING_MIN_LETTERS = 8
SHOUTING_SHARE = 0.7


@dataclass(frozen=True)
class Mood:
    """A message's negativity and anger, each from 0 to 1."""

    negative: float
    anger: float

    @property
    def label(self) -> str:
        if self.anger >= ANGER_THRESHOLD:
            return ANGRY
        if self.negative >= NEGATIVE_THRESHOLD:
            return NEGATIVE
        return NEUTRAL


@dataclass(frozen=True)
class _Words:
    valence: dict[str, float]
    anger: tuple[frozenset[str], tuple[str, ...]]
    insult: tuple[frozenset[str], tuple[str, ...]]


def _split(entries: list[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    # "escroc*" is a prefix; "f***" is a word.
    def is_prefix(entry: str) -> bool:
        return re.search(r"[^\W\d_]\*$", entry) is not None

    exact = frozenset(entry for entry in entries if not is_prefix(entry))
    return exact, tuple(entry[:-1] for entry in entries if is_prefix(entry))


@cache
def _crisis_words(language: str) -> _Words:
    data = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
    return _Words(
        valence={
            word: float(value) for word, value in data["valence"][language].items()
        },
        anger=_split([str(word) for word in data["anger"][language]]),
        insult=_split([str(word) for word in data["insult"][language]]),
    )


@cache
def _pattern_french() -> dict[str, float]:
    """Pattern's French adjectives, polarity -1..1 scaled to VADER's -4..4."""
    spec = importlib.util.find_spec("textblob_fr")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("textblob-fr is not installed: run `make install`.")
    path = Path(next(iter(spec.submodule_search_locations))) / "fr-sentiment.xml"
    senses: dict[str, list[float]] = {}
    for word in ElementTree.parse(path).getroot().iter("word"):
        form = word.get("form")
        if form:
            senses.setdefault(form.lower(), []).append(float(word.get("polarity", 0)))
    polarity = {form: sum(values) / len(values) for form, values in senses.items()}
    # Mild words ("grand", "tous", "beaucoup") are mostly quantities in a
    # complaint, not feelings: only clear polarities count.
    return {
        form: 4 * value
        for form, value in polarity.items()
        if abs(value) >= PATTERN_MIN_POLARITY
    }


@cache
def _vader() -> object:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(_crisis_words("en").valence)
    return analyzer


@cache
def _french_lexicon() -> dict[str, float]:
    return {**_pattern_french(), **_crisis_words("fr").valence}


def _matches(word: str, words: tuple[frozenset[str], tuple[str, ...]]) -> bool:
    exact, prefixes = words
    return word in exact or word.startswith(prefixes)


def _french_negativity(tokens: list[str]) -> float:
    """VADER's sum of valences, negation and boosters, with French words."""
    lexicon = _french_lexicon()
    total = 0.0
    for index, token in enumerate(tokens):
        valence = lexicon.get(token)
        if valence is None and token.endswith(("s", "x")):
            valence = lexicon.get(token[:-1])
        if not valence:
            continue
        before = tokens[max(0, index - 3) : index]
        if any(word in _FR_BOOSTERS for word in before):
            valence += _BOOST if valence > 0 else -_BOOST
        if any(word in _FR_NEGATIONS for word in before):
            valence *= _NEGATION_SCALAR
        total += valence
    compound = total / math.sqrt(total * total + _ALPHA)
    return max(0.0, -compound)


def _shouting(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    return len(letters) >= SHOUTING_MIN_LETTERS and (
        sum(char.isupper() for char in letters) / len(letters) >= SHOUTING_SHARE
    )


def score(text: str, language: str) -> Mood:
    """The mood of one message written in `language` ("fr" or "en"; anything
    else is scored as French, the first language)."""
    language = "en" if language == "en" else "fr"
    tokens = [token.lower() for token in WORD.findall(text)]
    if language == "en":
        compound = _vader().polarity_scores(text)["compound"]  # type: ignore[attr-defined]
        negative = max(0.0, -float(compound))
    else:
        negative = _french_negativity(tokens)
    words = _crisis_words(language)
    hostility = sum(2 for token in tokens if _matches(token, words.insult)) + sum(
        1 for token in tokens if _matches(token, words.anger)
    )
    anger = 0.3 * hostility
    if _shouting(text):
        anger += 0.3
    if "!!" in text or "??" in text:
        anger += 0.2
    if hostility and negative >= NEGATIVE_THRESHOLD:
        anger += 0.2
    return Mood(negative=round(negative, 3), anger=round(min(1.0, anger), 3))


@dataclass(frozen=True)
class Figures:
    """Precision and recall of one label on a labelled set."""

    label: str
    precision: float
    recall: float
    support: int


def load_labelled(path: Path) -> list[tuple[str, str, str]]:
    """(text, language, label) from a file shaped like tests/sentiment/*.yml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        (str(text), language, label)
        for label, languages in data.items()
        for language, texts in languages.items()
        for text in texts
    ]


def measure(
    labelled: list[tuple[str, str, str]],
    negative_threshold: float = NEGATIVE_THRESHOLD,
    anger_threshold: float = ANGER_THRESHOLD,
) -> dict[str, Figures]:
    """Precision and recall of `angry` and of `negative` (negative or angry,
    what the overview's share counts) at the given thresholds."""
    moods = [(score(text, language), label) for text, language, label in labelled]

    def figures(label: str, truth: set[str], said: list[bool]) -> Figures:
        actual = [expected in truth for _, expected in moods]
        hits = sum(a and s for a, s in zip(actual, said, strict=True))
        return Figures(
            label,
            precision=hits / sum(said) if sum(said) else 0.0,
            recall=hits / sum(actual) if sum(actual) else 0.0,
            support=sum(actual),
        )

    angry = [mood.anger >= anger_threshold for mood, _ in moods]
    negative = [
        a or mood.negative >= negative_threshold
        for (mood, _), a in zip(moods, angry, strict=True)
    ]
    return {
        ANGRY: figures(ANGRY, {ANGRY}, angry),
        NEGATIVE: figures(NEGATIVE, {ANGRY, NEGATIVE}, negative),
    }
