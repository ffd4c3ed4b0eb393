"""`make bench-topics`: the topic model and the gate's limits alone, in minutes.

`make bench-coldstart` measures the whole assistant but trains Rasa twice per
size (about 40 minutes for both packs). Before changing the topic model or how
its limits are derived, this asks the narrower question in a few minutes:
is it the ranking or the gate that loses answers?

For each shipped pack (or `--pack NAME`) and each size (first 1, 2, 3, 8 and
all examples per topic and language; `--sizes 2,3`), it trains the topic
model the way FaqTopicClassifier does (examples, titles, answer sentences,
the "not in the FAQ" examples of data/ and the pack), derives the limits from
the pack, and ranks every held-out question. Prints, in % of covered
questions: right topic first, right topic among the first three, answered
right and wrong at the derived limits, right directly or as a button, and
"best possible": the most that any confidence and margin limits could answer
right with at most 3 % wrong, chosen on the held-out questions themselves.
That column is an upper bound for the gate, never a figure to report as
Relais' own; when the derived limits are close to it, a better gate cannot
help and only a better ranking can.

No DIET, no triggers, no "out of scope" intent: for the assistant as people
meet it, run `make bench-coldstart`.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import spacy
import yaml

from bot.faq.pack import load_pack, parse_examples
from bot.nlu.evaluation import load_questions
from bot.nlu.gate import DEFAULT_FAQ_MARGIN, DEFAULT_FAQ_THRESHOLD
from bot.nlu.topics import (
    NOT_IN_FAQ,
    Question,
    TopicModel,
    answer_sentences,
    derive_threshold,
    margin_of,
)

ROOT = Path(__file__).resolve().parent.parent
SIZES: tuple[int | None, ...] = (1, 2, 3, 8, None)  # None: every example
TARGET_WRONG = 0.03
_GRID = np.round(np.arange(0.0, 1.0001, 0.025), 3)


class Parser:
    """Questions as SpacyNLP and SpacyTokenizer give them to the topic model
    (lower-cased text into spaCy, as Rasa's SpacyNLP does by default)."""

    def __init__(self) -> None:
        self._nlp = spacy.load("fr_core_news_md", exclude=["parser", "ner"])
        self.question = lru_cache(maxsize=None)(self._question)

    def _question(self, text: str) -> Question:
        return Question.from_doc(text, self._nlp(text.lower()))


def not_in_faq_examples(pack: Path) -> list[str]:
    texts = []
    sources = (ROOT / "data" / "nlu" / "basics.yml", pack / "nlu" / "out_of_scope.yml")
    for path in sources:
        if not path.is_file():
            continue
        for block in yaml.safe_load(path.read_text("utf-8")).get("nlu") or []:
            if block.get("intent") == NOT_IN_FAQ:
                texts += parse_examples(block.get("examples") or "")
    return texts


def best_possible(points: list[tuple[float, float, bool]], covered: int) -> float:
    """The most answered right by any limits with ≤ 3 % of covered wrong."""
    best = 0
    for confidence in _GRID:
        for margin in (m for m in _GRID if m <= confidence):
            answered = [r for c, m, r in points if c >= confidence and m >= margin]
            if len(answered) - sum(answered) <= TARGET_WRONG * covered:
                best = max(best, sum(answered))
    return best / covered


def measure(pack: Path, size: int | None, parse: Parser) -> dict[str, float | str]:
    questions: list[Question] = []
    topics: list[str] = []
    groups: list[str] = []
    known: set[tuple[str, str]] = set()
    for key, topic in load_pack(pack / "faq").items():
        for language, examples in topic.examples.items():
            for text in examples if size is None else examples[:size]:
                questions.append(parse.question(text))
                topics.append(f"faq/{key}")
                groups.append(f"faq/{key} {language}")
        known.update((title, f"faq/{key}") for title in topic.titles.values())
        for answer in topic.answers.values():
            known.update((s, f"faq/{key}") for s in answer_sentences(answer))
    said = [(parse.question(text), key) for text, key in sorted(known)]
    not_in_faq = [parse.question(text) for text in not_in_faq_examples(pack)]
    started = time.perf_counter()
    limits = derive_threshold(questions, topics, not_in_faq, said, groups=groups)
    model = TopicModel.train(
        [*questions, *(q for q, _ in said)],
        [*topics, *(t for _, t in said)],
        not_in_faq,
    )
    seconds = time.perf_counter() - started
    confidence, margin = (
        (limits.confidence, limits.margin)
        if limits
        else (DEFAULT_FAQ_THRESHOLD, DEFAULT_FAQ_MARGIN)
    )
    held_out = load_questions(pack / "heldout")
    points: list[tuple[float, float, bool]] = []
    first = among = right = wrong = button = uncovered = caught = 0
    for question in held_out:
        ranking = model.rank(parse.question(question.text))
        answered = ranking[0][1] >= confidence and margin_of(ranking) >= margin
        if question.expected == NOT_IN_FAQ:
            uncovered += 1
            caught += not answered
            continue
        is_first = ranking[0][0] == question.expected
        offered = question.expected in [key for key, _ in ranking[:3]]
        points.append((ranking[0][1], margin_of(ranking), is_first))
        first += is_first
        among += offered
        right += answered and is_first
        wrong += answered and not is_first
        button += not answered and offered
    covered = max(1, len(points))
    return {
        "first": 100 * first / covered,
        "first three": 100 * among / covered,
        "limits": f"{confidence:.3f} / {margin:.3f}" + ("" if limits else " (fixed)"),
        "right": 100 * right / covered,
        "wrong": 100 * wrong / covered,
        "right or button": 100 * (right + button) / covered,
        "caught": 100 * caught / max(1, uncovered),
        "best possible": 100 * best_possible(points, covered),
        "training s": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", help="one pack of packs/ (default: every one)")
    parser.add_argument("--sizes", help="examples per topic and language, e.g. 2,3,all")
    arguments = parser.parse_args()
    packs = (
        [ROOT / "packs" / arguments.pack]
        if arguments.pack
        else sorted(p for p in (ROOT / "packs").iterdir() if (p / "faq").is_dir())
    )
    sizes = (
        [None if s == "all" else int(s) for s in arguments.sizes.split(",")]
        if arguments.sizes
        else list(SIZES)
    )
    for pack in packs:
        if not (pack / "faq").is_dir():
            print(f"No FAQ in {pack}.", file=sys.stderr)
            return 2
    parse = Parser()
    columns = ["first", "first three", "limits", "right", "wrong",
               "right or button", "caught", "best possible", "training s"]  # fmt: skip
    for pack in packs:
        print(f"\n{pack.name}\n")
        print("| k | " + " | ".join(columns) + " |")
        print("| --- |" + " ---: |" * len(columns))
        for size in sizes:
            row = measure(pack, size, parse)
            cells = [
                value if isinstance(value, str) else f"{value:.1f}"
                for value in (row[c] for c in columns)
            ]
            print(f"| {size or 'all'} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
