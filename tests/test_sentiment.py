"""The sentiment scorer: thresholds fit the tuning set, the held-out set
measures it (figures in docs/benchmarks.md), and what a community manager
would read as obvious comes out right."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.insights import sentiment
from bot.insights.sentiment import ANGRY, NEGATIVE, NEUTRAL, measure, score

HERE = Path(__file__).parent / "sentiment"
TUNING = sentiment.load_labelled(HERE / "tuning.yml")
HELDOUT = sentiment.load_labelled(HERE / "heldout.yml")


def f1(figures: sentiment.Figures) -> float:
    total = figures.precision + figures.recall
    return 2 * figures.precision * figures.recall / total if total else 0.0


def test_the_held_out_set_was_not_used_for_tuning() -> None:
    tuning = {text.lower() for text, _, _ in TUNING}
    assert not [text for text, _, _ in HELDOUT if text.lower() in tuning]
    assert len(HELDOUT) >= 100 and {label for *_, label in HELDOUT} == {
        ANGRY,
        NEGATIVE,
        NEUTRAL,
    }


def test_the_thresholds_are_the_best_on_the_tuning_set() -> None:
    """Re-tuning on tuning.yml would not pick better thresholds than the ones
    in the code (so they were not picked on the held-out set)."""

    def quality(negative: float, anger: float) -> float:
        figures = measure(TUNING, negative, anger)
        return (f1(figures[NEGATIVE]) + f1(figures[ANGRY])) / 2

    chosen = quality(sentiment.NEGATIVE_THRESHOLD, sentiment.ANGER_THRESHOLD)
    best = max(
        quality(negative / 100, anger / 10)
        for negative in range(5, 60, 5)
        for anger in range(3, 8)
    )
    assert chosen >= best - 0.01


def test_held_out_precision_and_recall() -> None:
    """Floors under the figures reported in docs/benchmarks.md: a change to
    the lexicon or the rules that makes the scorer worse fails here."""
    figures = measure(HELDOUT)
    assert figures[NEGATIVE].precision >= 0.9
    assert figures[NEGATIVE].recall >= 0.65
    assert figures[ANGRY].precision >= 0.9
    assert figures[ANGRY].recall >= 0.55


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("Quels lots sont concernés par le rappel ?", "fr", NEUTRAL),
        ("Which lots are affected by the recall?", "en", NEUTRAL),
        ("merci beaucoup, c'est très clair", "fr", NEUTRAL),
        ("je suis très inquiète pour ma fille", "fr", NEGATIVE),
        ("I'm worried, my son ate some", "en", NEGATIVE),
        ("je ne suis pas déçu du tout, merci", "fr", NEUTRAL),
        ("VOUS ÊTES DES ESCROCS", "fr", ANGRY),
        ("you are liars and crooks", "en", ANGRY),
    ],
)
def test_obvious_messages(text: str, language: str, label: str) -> None:
    assert score(text, language).label == label


def test_any_other_language_is_scored_without_failing() -> None:
    assert score("¿Qué lotes están afectados?", "es").label in (NEUTRAL, NEGATIVE)
    assert score("", "fr") == sentiment.Mood(0.0, 0.0)
