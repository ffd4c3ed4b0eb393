"""`make calibrate-gate`: the gate's limits per phrasings per topic, from many packs.

Cuts every third-party set of ../shared/dev-data and every shipped pack to
1, 2, 3, 4, 6, 8 and 12 phrasings per topic and language (three seeds
each), trains the topic model on each cut exactly as FaqTopicClassifier does
(examples, titles, answer sentences, "not in the FAQ" examples), ranks its
held-out questions, and writes:

- var/calibration/samples.json: every ranked question (confidence, margin,
  right, covered), which `make bench-thirdparty` reads to leave each set out
  of its own calibration;
- bot/nlu/calibration.json: the limits per wrong-answer target and size
  (bot/nlu/calibration.py), numbers only.

Run it again after changing the topic model or the encoder (about 20 minutes
on 2 cores), and commit calibration.json with the change.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from packsets import ROOT, Cut, PackSet, Parser, all_packs, cut

from bot.nlu.calibration import (
    CALIBRATION_FILE,
    SIZES,
    Sample,
    Scored,
    calibrate,
    median_phrasings,
)
from bot.nlu.topics import NOT_IN_FAQ, TopicModel, margin_of

SAMPLES_FILE = ROOT / "var" / "calibration" / "samples.json"
SEEDS = (0, 1, 2)
# A cut with fewer topics than this says nothing about a real FAQ.
MIN_TOPICS = 8

_parser: Parser | None = None


def train(the_cut: Cut, parse: Parser) -> TopicModel:
    questions = parse.questions([text for text, _, _ in the_cut.examples])
    known = parse.questions([text for text, _ in the_cut.known])
    return TopicModel.train(
        [*questions, *known],
        [*(topic for _, topic, _ in the_cut.examples), *(t for _, t in the_cut.known)],
        parse.questions(the_cut.not_in_faq),
    )


def rankings(the_cut: Cut, parse: Parser) -> list[list[tuple[str, float]]]:
    model = train(the_cut, parse)
    return model.rank_all(parse.questions([text for text, _ in the_cut.held_out]))


def sample(pack: PackSet, size: int, seed: int) -> Sample | None:
    global _parser
    if _parser is None:
        _parser = Parser()
    the_cut = cut(pack, size, seed)
    if len({topic for _, topic, _ in the_cut.examples}) < MIN_TOPICS:
        return None
    points = []
    for (_, expected), ranking in zip(
        the_cut.held_out, rankings(the_cut, _parser), strict=True
    ):
        points.append(
            Scored(
                round(ranking[0][1], 4),
                round(margin_of(ranking), 4),
                ranking[0][0] == expected,
                expected != NOT_IN_FAQ,
                expected in [topic for topic, _ in ranking[:3]],
            )
        )
    per_topic = Counter((topic, language) for _, topic, language in the_cut.examples)
    return Sample(
        pack.name, size, seed, tuple(points), median_phrasings(per_topic.values())
    )


def save_samples(samples: list[Sample], path: Path = SAMPLES_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(s) for s in samples]), "utf-8")


def load_samples(path: Path = SAMPLES_FILE) -> list[Sample]:
    if not path.is_file():
        raise SystemExit(
            f"No calibration samples in {path}: run `make calibrate-gate`."
        )
    return [
        Sample(
            s["pack"],
            s["size"],
            s["seed"],
            tuple(Scored(**p) for p in s["points"]),
            s["phrasings"],
        )
        for s in json.loads(path.read_text("utf-8"))
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--reuse-samples", action="store_true",
        help="recompute the table from var/calibration/samples.json only",
    )  # fmt: skip
    arguments = parser.parse_args()
    started = time.perf_counter()
    if arguments.reuse_samples:
        samples = load_samples()
    else:
        packs = all_packs()
        jobs = [(p, size, seed) for p in packs for size in SIZES for seed in SEEDS]
        with ProcessPoolExecutor(arguments.workers) as pool:
            found = list(pool.map(sample, *zip(*jobs, strict=True)))
        samples = [s for s in found if s is not None]
        save_samples(samples)
    table = calibrate(samples)
    CALIBRATION_FILE.write_text(json.dumps(table, indent=1) + "\n", "utf-8")
    print(f"{len(samples)} samples of {len(table['packs'])} packs")
    for target, per_size in table["limits"].items():
        print(f"\nwrong ≤ {float(target):.0%}\n")
        print(
            "| k | confidence | margin | offer | right (mean) | wrong (max) "
            "| caught (min) |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for size, limits in per_size.items():
            print(
                f"| {size} | {limits['confidence']:.3f} | {limits['margin']:.3f} | "
                f"{limits['offer']:.3f} | {100 * limits['right']:.1f} | "
                f"{100 * limits['wrong']:.1f} | {100 * limits['caught']:.1f} |"
            )
    print(f"\n{time.perf_counter() - started:.0f} s; written to {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
