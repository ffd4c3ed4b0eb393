"""Escalation triggers: precision and recall per trigger on a labelled set.

`pytest tests/test_triggers.py -s` prints the table (also in
docs/benchmarks.md). The floors below are what the set shows today, rounded
down: a change that makes a trigger miss people or fire on FAQ questions fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest
import spacy
import yaml
from spacy.language import Language

from bot.handoff.triggers import REASON_PRIORITIES, TriggerDetector

LABELLED = Path(__file__).parent / "triggers" / "labelled.yml"
# Urgent triggers must not miss people; high ones must not flood the queue.
FLOORS = {
    "self_harm": (0.95, 0.95),
    "health": (0.9, 0.9),
    "legal": (0.9, 0.9),
    "press": (0.9, 0.85),
    "data_protection": (0.9, 0.85),
    "anger": (0.8, 0.8),
}


@lru_cache(maxsize=1)
def nlp() -> Language:
    return spacy.load("fr_core_news_md")


@lru_cache(maxsize=1)
def detector() -> TriggerDetector:
    return TriggerDetector(nlp().vocab)


def detect(text: str) -> str | None:
    # Rasa's SpacyNLP parses the lower-cased text; the original goes along.
    trigger = detector().detect(nlp()(text.lower()), text)
    return trigger.reason if trigger else None


def labelled() -> Iterator[tuple[str, str, str]]:
    data = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))
    for label, by_language in data.items():
        for language, texts in by_language.items():
            for text in texts:
                yield label, language, text


def test_the_set_covers_every_trigger_in_both_languages() -> None:
    seen = {(label, language) for label, language, _ in labelled()}
    for reason in [*REASON_PRIORITIES, "none"]:
        assert {(reason, "fr"), (reason, "en")} <= seen


def test_precision_and_recall_per_trigger() -> None:
    results = [
        (label, language, text, detect(text)) for label, language, text in labelled()
    ]
    lines = [f"{'trigger':<16} {'precision':>9} {'recall':>7}  (n)"]
    failures = []
    for reason, (min_precision, min_recall) in FLOORS.items():
        fired = [r for r in results if r[3] == reason]
        relevant = [r for r in results if r[0] == reason]
        hits = [r for r in fired if r[0] == reason]
        precision = len(hits) / len(fired) if fired else 0.0
        recall = len(hits) / len(relevant)
        lines.append(
            f"{reason:<16} {precision:>9.2f} {recall:>7.2f}  ({len(relevant)})"
        )
        if precision < min_precision or recall < min_recall:
            failures.append(reason)
    false_alarms = [r for r in results if r[0] == "none" and r[3]]
    lines.append(
        f"FAQ/other messages escalated: {len(false_alarms)} of "
        f"{sum(r[0] == 'none' for r in results)}"
    )
    mistakes = [
        f"  {label} -> {got}: {text}"
        for label, _, text, got in results
        if label != got and not (label == "none" and got is None)
    ]
    print("\n" + "\n".join([*lines, "mistakes:", *mistakes]))
    assert not failures, "\n".join(lines + mistakes)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("j'ai mangé le produit et je vomis", "health"),
        ("JE VOMIS DEPUIS CE MATIN", "health"),
        ("je n'ai pas de fièvre, c'est grave ?", None),
        ("si j'ai de la fievre je fais quoi", None),
        ("my child swallowed it", "health"),
        ("can my child eat the other products?", None),
        ("je veux mourir", "self_harm"),
        ("est ce que la listériose peut tuer", None),
    ],
)
def test_who_is_having_symptoms_matters(text: str, reason: str | None) -> None:
    assert detect(text) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("j'ai des vertiges et des crampes depuis que j'ai mangé le fromage", "health"),
        ("ma fille a des démangeaisons partout", "health"),
        ("j'ai des douleurs musculaires", "health"),
        ("j'ai peur de la listériose", None),
        ("je suis fatigué d'attendre votre réponse", None),
    ],
)
def test_symptoms_nobody_listed_are_found_by_their_vector(
    text: str, reason: str | None
) -> None:
    assert detect(text) == reason


def test_self_harm_wins_over_anger() -> None:
    assert detect("BANDE D'ESCROCS, JE VAIS ME TUER") == "self_harm"
