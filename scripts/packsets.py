"""Packs to calibrate and measure the FAQ matching on: the shipped packs and
the third-party sets of ../shared/dev-data, each cut to k phrasings per topic.

Used by scripts/calibrate_gate.py and scripts/bench_thirdparty.py. The
third-party sets are read from where they lie, never copied
(../shared/dev-data/README.md): each class becomes a topic, its name
(humanised) its title and answer where it has a name, `k` of its questions
the phrasings an editor wrote, the rest held-out questions; HINT3's
NO_NODES_DETECTED rows are out of scope.

A sample is reproducible: `cut(pack, k, seed)` always draws the same
phrasings. Shipped packs are cut by taking k examples per topic and language
at random (seed 0: the first k, as an editor writes them).
"""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import spacy
import yaml

from bot.faq.pack import load_pack, parse_examples
from bot.nlu.topics import NOT_IN_FAQ, Question, answer_sentences
from bot.publish.evaluation import load_questions

ROOT = Path(__file__).resolve().parent.parent
DEV_DATA = Path(
    os.environ.get("RELAIS_DEV_DATA", ROOT.parent / "shared" / "dev-data")
).resolve()
# Held-out questions kept per topic of a large set (banking77 has 40): the
# measure keeps its precision and a run its minutes.
HELD_OUT_PER_TOPIC = 10
# COVID-Q's classes need this many questions to keep three phrasings and one
# held-out question (90 classes).
COVID_Q_MIN_ROWS = 4


class Parser:
    """Questions as SpacyNLP and SpacyTokenizer give them to the topic model
    (lower-cased text into spaCy, as Rasa's SpacyNLP does by default)."""

    def __init__(self) -> None:
        self._nlp = spacy.load("fr_core_news_md", exclude=["parser", "ner"])
        self.question = lru_cache(maxsize=None)(self._question)

    def _question(self, text: str) -> Question:
        return Question.from_doc(text, self._nlp(text.lower()))

    def questions(self, texts: list[str]) -> list[Question]:
        return [self.question(text) for text in texts]


@dataclass
class PackSet:
    """A pack to cut: every topic's phrasings, and held-out questions."""

    name: str
    # topic -> language -> phrasings to draw the editor's examples from
    phrasings: dict[str, dict[str, list[str]]]
    # (text, "faq/<topic>" or NOT_IN_FAQ); None: the phrasings not drawn
    held_out: list[tuple[str, str]] | None
    titles: dict[str, list[str]] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    not_in_faq: list[str] = field(default_factory=list)
    shipped: bool = False
    # Fewest phrasings a topic needs to be kept (pooled sets).
    min_rows: int = 2


@dataclass
class Cut:
    """A pack at k phrasings per topic and language."""

    pack: str
    size: int
    seed: int
    examples: list[tuple[str, str, str]]  # text, "faq/<topic>", language
    known: list[tuple[str, str]]  # titles and answer sentences, "faq/<topic>"
    not_in_faq: list[str]
    held_out: list[tuple[str, str]]  # text, "faq/<topic>" or NOT_IN_FAQ


def _rows(path: Path, header: bool = True) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return [
        (" ".join(row[0].split()), row[1].strip())
        for row in rows[1 if header else 0 :]
        if len(row) > 1 and row[0].strip()
    ]


def _humanised(label: str) -> str:
    return label.replace("_", " ").lower()


def basic_not_in_faq() -> list[str]:
    """The "not in the FAQ" examples every Relais pack trains with: out of
    scope, small talk, requests for a human (FaqTopicClassifier)."""
    texts: list[str] = []
    for block in yaml.safe_load(
        (ROOT / "data" / "nlu" / "basics.yml").read_text("utf-8")
    ).get("nlu", []):
        if block.get("intent") and not str(block["intent"]).startswith("faq/"):
            texts += parse_examples(block.get("examples") or "")
    return texts


def _covid_q() -> PackSet:
    pooled: dict[str, list[str]] = defaultdict(list)
    for name in ("train3.csv", "testA.csv", "testB.csv"):
        for text, label in _rows(DEV_DATA / "covid-q" / name, header=False):
            pooled[f"faq/c{label}"].append(text)
    return PackSet(
        "covid-q",
        {topic: {"en": texts} for topic, texts in pooled.items()},
        None,
        min_rows=COVID_Q_MIN_ROWS,
    )


def _split_set(name: str, train: Path, test: Path, header: bool = True) -> PackSet:
    phrasings: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"en": []})
    for text, label in _rows(train, header):
        phrasings[f"faq/{label.lower()}"]["en"].append(text)
    held_out = [
        (text, NOT_IN_FAQ if label == "NO_NODES_DETECTED" else f"faq/{label.lower()}")
        for text, label in _rows(test, header)
    ]
    titles = {topic: [_humanised(topic.removeprefix("faq/"))] for topic in phrasings}
    return PackSet(name, dict(phrasings), held_out, titles=titles)


def _shipped(pack: Path) -> PackSet:
    phrasings: dict[str, dict[str, list[str]]] = {}
    titles: dict[str, list[str]] = {}
    answers: dict[str, list[str]] = {}
    for key, topic in load_pack(pack / "faq").items():
        phrasings[f"faq/{key}"] = {
            language: list(texts) for language, texts in topic.examples.items()
        }
        titles[f"faq/{key}"] = list(topic.titles.values())
        answers[f"faq/{key}"] = list(topic.answers.values())
    not_in_faq: list[str] = []
    own = pack / "nlu" / "out_of_scope.yml"
    if own.is_file():
        for block in yaml.safe_load(own.read_text("utf-8")).get("nlu") or []:
            if block.get("intent") == NOT_IN_FAQ:
                not_in_faq += parse_examples(block.get("examples") or "")
    return PackSet(
        pack.name,
        phrasings,
        [(q.text, q.expected) for q in load_questions(pack / "heldout")],
        titles,
        answers,
        not_in_faq,
        shipped=True,
    )


def shipped_packs() -> list[PackSet]:
    return [
        _shipped(path)
        for path in sorted((ROOT / "packs").iterdir())
        if (path / "faq").is_dir() and (path / "heldout").is_dir()
    ]


def third_party_sets() -> list[PackSet]:
    """Every set of ../shared/dev-data (an error says where it was looked for)."""
    if not DEV_DATA.is_dir():
        raise SystemExit(
            f"No third-party sets in {DEV_DATA}: set RELAIS_DEV_DATA to the "
            "folder of ../shared/dev-data."
        )
    hint3 = DEV_DATA / "hint3"
    return [
        _covid_q(),
        _split_set(
            "banking77", DEV_DATA / "banking77" / "train.csv",
            DEV_DATA / "banking77" / "test.csv",
        ),
        *(
            _split_set(
                f"hint3-{bot}", hint3 / "train" / f"{bot}_train.csv",
                hint3 / "test" / f"{bot}_test.csv",
            )
            for bot in ("sofmattress", "curekart", "powerplay11")
        ),
    ]  # fmt: skip


def all_packs() -> list[PackSet]:
    return [*third_party_sets(), *shipped_packs()]


def cut(pack: PackSet, size: int, seed: int) -> Cut:
    """`pack` with `size` phrasings per topic and language, drawn with `seed`."""
    draw = random.Random(f"{pack.name} {size} {seed}")
    examples: list[tuple[str, str, str]] = []
    left: list[tuple[str, str]] = []
    for topic in sorted(pack.phrasings):
        by_language = pack.phrasings[topic]
        if pack.held_out is None and (
            sum(len(t) for t in by_language.values()) < max(pack.min_rows, size + 1)
        ):
            continue
        for language in sorted(by_language):
            texts = list(by_language[language])
            if not (pack.shipped and seed == 0):
                draw.shuffle(texts)
            keep = min(size, len(texts) - (1 if pack.held_out is None else 0))
            examples += [(text, topic, language) for text in texts[:keep]]
            left += [(text, topic) for text in texts[keep:]]
    topics = {topic for _, topic, _ in examples}
    if pack.held_out is None:
        held_out = left
    else:
        held_out = [(t, e) for t, e in pack.held_out if e in topics or e == NOT_IN_FAQ]
    held_out = _capped(held_out, draw)
    known = sorted(
        {(title, topic) for topic in topics for title in pack.titles.get(topic, [])}
        | {
            (sentence, topic)
            for topic in topics
            for answer in pack.answers.get(topic, [])
            for sentence in answer_sentences(answer)
        }
    )
    return Cut(
        pack.name,
        size,
        seed,
        examples,
        known,
        [*basic_not_in_faq(), *pack.not_in_faq],
        held_out,
    )


def _capped(
    held_out: list[tuple[str, str]], draw: random.Random
) -> list[tuple[str, str]]:
    by_topic: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair in held_out:
        by_topic[pair[1]].append(pair)
    kept: list[tuple[str, str]] = []
    for topic in sorted(by_topic):
        pairs = by_topic[topic]
        if topic != NOT_IN_FAQ and len(pairs) > HELD_OUT_PER_TOPIC:
            pairs = draw.sample(pairs, HELD_OUT_PER_TOPIC)
        kept += pairs
    return kept
