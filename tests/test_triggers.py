"""Escalation triggers: precision and recall per trigger on labelled sets.

`pytest tests/test_triggers.py -s` prints the tables (also in
docs/benchmarks.md). Two measures:

- `labelled.yml`: precision and recall per trigger; the floors are what the
  set showed when it was written, rounded down: a change that makes a trigger
  miss people fails.
- Text nobody tuned the triggers on: `ordinary.yml` (messages that share
  words with the triggers, written apart from the patterns) and every example
  and held-out question of the shipped packs, where a trigger firing is a
  false positive unless `sensitive_examples.yml` lists the text. Precision
  must stay at 0.95 or more per trigger: a false trigger sends an ordinary
  question to the queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest
import spacy
import yaml
from spacy.language import Language

from bot.faq.pack import parse_examples
from bot.nlu.triggers import REASON_PRIORITIES, TriggerDetector

ROOT = Path(__file__).parent.parent
TRIGGERS = Path(__file__).parent / "triggers"
LABELLED = TRIGGERS / "labelled.yml"
ORDINARY = TRIGGERS / "ordinary.yml"
SENSITIVE_EXAMPLES = TRIGGERS / "sensitive_examples.yml"
# Where the shipped packs keep their examples and held-out questions.
SHIPPED_TEXTS = (ROOT / "data", ROOT / "packs")
MIN_PRECISION = 0.95
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


def labelled(path: Path = LABELLED) -> Iterator[tuple[str, str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def shipped_examples() -> Iterator[tuple[str, str]]:
    """Every example and held-out question of the shipped packs, labelled
    with the trigger it should fire ("none" unless listed as sensitive)."""
    sensitive = yaml.safe_load(SENSITIVE_EXAMPLES.read_text(encoding="utf-8"))
    expected = {text: reason for reason, texts in sensitive.items() for text in texts}
    for directory in SHIPPED_TEXTS:
        for path in sorted(directory.rglob("*.yml")):
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for block in content.get("nlu") or []:
                for text in parse_examples(block.get("examples") or ""):
                    yield expected.get(text, "none"), text


@pytest.mark.slow
def test_precision_on_text_nobody_tuned_the_triggers_on() -> None:
    results = [(label, text, detect(text) or "none") for label, _, text in labelled()]
    results += [
        (label, text, detect(text) or "none") for label, _, text in labelled(ORDINARY)
    ]
    shipped = [
        (label, text, detect(text) or "none") for label, text in shipped_examples()
    ]
    results += shipped
    lines = [f"{'trigger':<16} {'precision':>9} {'fired':>6}  false positives"]
    failures = []
    for reason in REASON_PRIORITIES:
        fired = [r for r in results if r[2] == reason]
        wrong = [r for r in fired if r[0] != reason]
        precision = 1 - len(wrong) / len(fired) if fired else 1.0
        lines.append(f"{reason:<16} {precision:>9.2f} {len(fired):>6}  {len(wrong)}")
        lines += [f"    was {label}: {text}" for label, text, _ in wrong]
        if precision < MIN_PRECISION:
            failures.append(reason)
    lines.append(
        f"{len(results)} messages, {len(shipped)} of them from the shipped packs"
    )
    print("\n" + "\n".join(lines))
    assert not failures, "\n".join(lines)


def test_every_listed_sensitive_example_is_in_a_shipped_pack() -> None:
    # A stale list would excuse false positives that no longer exist.
    sensitive = yaml.safe_load(SENSITIVE_EXAMPLES.read_text(encoding="utf-8"))
    listed = {text for texts in sensitive.values() for text in texts}
    shipped = {text for _, text in shipped_examples()}
    assert listed - shipped == set()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # Ordinary questions that once went to a human as press (issue 10).
        ("je voudrais faire une demande de remboursement", None),
        ("le service de garde d'urgence est-il ouvert ?", None),
        ("quel est le contact de votre service consommateurs ?", None),
        ("journaliste à l'AFP, je souhaite joindre votre service de presse", "press"),
        ("quel est le contact presse ?", "press"),
        ("mes frais d'hôpital seront-ils remboursés ?", None),
        ("mon mari est à l'hôpital depuis hier", "health"),
        ("l'avocat général a parlé à la télé", None),
        ("mon avocat va vous écrire", "legal"),
        ("quand allez-vous en finir avec ces coupures ?", None),
        ("mes enfants ont mangé à la cantine, quel menu est concerné ?", None),
        ("mon enfant en a mangé ce matin", "health"),
        # "reporter" the verb (to postpone) is not the press (issue 28).
        ("Dois-je reporter mon baptême ?", None),
        ("je dois reporter mon rendez-vous, le rappel concerne quels lots ?", None),
        ("le rendez-vous est reporté à quand ?", None),
        ("je suis reporter au Parisien, qui peut me répondre ?", "press"),
        ("un reporter de BFM voudrait filmer l'usine", "press"),
        ("I'm a reporter for a local paper", "press"),
    ],
)
def test_shared_words_are_not_enough(text: str, reason: str | None) -> None:
    assert detect(text) == reason


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
