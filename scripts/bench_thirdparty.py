"""`make bench-thirdparty`: FAQ matching on packs nobody here wrote, at hour one.

Every third-party set of ../shared/dev-data (COVID-Q, banking77, HINT3's
three support bots) and both shipped packs, cut to 1, 2, 3 and 8 phrasings
per topic and language (scripts/packsets.py; seeds 0, 1, 2).

Part 1, the ranking and the gate (minutes): the topic model as
FaqTopicClassifier trains it, ranks each cut's held-out questions, today
(with the sentence encoder) and before issue 27 (without it). The gate's
limits for a pack come from a calibration *on the other packs only* (leave
one pack out, bot/nlu/calibration.py, every calibrated size ranked), read
for the phrasings the cut really has, as Relais reads them for a pack
(HINT3 powerplay11 "at 8" has 7), so every figure is what a pack nobody
calibrated on would get. The shipped packs are measured with all their
phrasings too. `--reuse-samples` takes the ranked cuts of the last `make
calibrate-gate` rather than ranking them again. Printed per pack and size,
in % of covered questions (mean of the seeds): right topic first, best possible right at
≤ 3 % wrong (any confidence and margin, chosen on the held-out questions
themselves: an upper bound, never Relais' figure), then at the calibrated
limits: right, wrong (the worst seed), "did you mean" with the right topic
among the buttons, right directly or as a button, out of scope caught, and
right as a share of the best possible.

Part 2, the whole NLU pipeline (`--no-rasa` skips it): Relais' config.yml
at 1, 2, 3 and 8 phrasings and Rasa's default pipeline (`rasa init`'s
config.yml) at 3 (`--rasa-sizes`, `--default-sizes`), trained with `rasa
train nlu` on each cut (seed 0), every held-out question
parsed by the trained model (intent classifier, topic model, gate, triggers:
what decides the answer), and its ending counted as in `make bench-coldstart`.
Relais' model of each set is trained with a calibration that left that set
out (RELAIS_GATE_CALIBRATION), so these figures are blind too; the latency
is the median parse time per message.

What was tuned on what: the encoder's weight beside the other views on these
sets (docs/encoder.md); the calibration on these sets and the shipped packs'
held-out questions (always leaving the measured one out here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from bench_coldstart import ending
from bench_nlu import rasa_default_config
from calibrate_gate import load_samples, sample
from packsets import ROOT, Cut, PackSet, all_packs, cut

from bot.nlu import topics
from bot.nlu.calibration import GRID, Sample, calibrate, limits_for
from bot.nlu.calibration import SIZES as CALIBRATION_SIZES
from bot.nlu.topics import NOT_IN_FAQ, DerivedThreshold
from bot.publish.evaluation import HeldOutQuestion

OUT = ROOT / "var" / "bench-thirdparty"
SIZES = (1, 2, 3, 8)
# The shipped packs are also measured with every phrasing they have (one
# draw: all of them).
ALL = 10_000
SEEDS = (0, 1, 2)
TARGET = 0.03


def sample_before(pack: PackSet, size: int, seed: int) -> Sample | None:
    """The same cut ranked as before issue 27: no sentence encoder."""
    topics.ENCODED_WEIGHT = 0.0
    return sample(pack, size, seed)


def best_possible(s: Sample) -> float:
    """The most right at ≤ 3 % of covered wrong, any limits (an upper bound)."""
    confidence = np.array([p.confidence for p in s.points if p.covered])
    margin = np.array([p.margin for p in s.points if p.covered])
    right = np.array([p.right for p in s.points if p.covered], dtype=bool)
    n, best = max(1, len(right)), 0
    for c in GRID:
        for m in (m for m in GRID if m <= c):
            answered = (confidence >= c) & (margin >= m)
            if (answered & ~right).sum() <= TARGET * n:
                best = max(best, int((answered & right).sum()))
    return best / n


def at_limits(s: Sample, limits: DerivedThreshold) -> dict[str, float]:
    covered = [p for p in s.points if p.covered]
    other = [p for p in s.points if not p.covered]
    n = max(1, len(covered))

    def answered(p: Any) -> bool:
        return p.confidence >= limits.confidence and p.margin >= limits.margin

    right = sum(answered(p) and p.right for p in covered) / n
    return {
        "first": sum(p.right for p in covered) / n,
        "best": best_possible(s),
        "right": right,
        "wrong": sum(answered(p) and not p.right for p in covered) / n,
        "buttons": sum(
            not answered(p) and p.confidence >= limits.offer and p.among
            for p in covered
        )
        / n,
        "caught": (
            sum(not answered(p) for p in other) / len(other) if other else float("nan")
        ),
    }


def part_one(
    packs: list[PackSet], workers: int, reuse_samples: bool = False
) -> dict[str, Any]:
    """Measures `packs`, each with a calibration on every other pack."""
    started = time.perf_counter()
    if reuse_samples:
        now = load_samples()
    else:
        # Every pack at every calibrated size, so that each measured pack's
        # calibration without it is the one Relais would ship without it.
        jobs = [
            (p, k, seed)
            for p in all_packs()
            for k in CALIBRATION_SIZES
            for seed in SEEDS
        ]
        with ProcessPoolExecutor(workers) as pool:
            now = [s for s in pool.map(sample, *zip(*jobs, strict=True)) if s]
    everything = [(p, ALL, 0) for p in packs if p.shipped]
    if everything:
        with ProcessPoolExecutor(workers) as pool:
            now += [s for s in pool.map(sample, *zip(*everything, strict=True)) if s]
    jobs = [(p, k, seed) for p in packs for k in SIZES for seed in SEEDS] + everything
    with ProcessPoolExecutor(workers) as pool:
        before = [s for s in pool.map(sample_before, *zip(*jobs, strict=True)) if s]
    print(
        f"Part 1: {len(now)} cuts ranked, {len(before)} without the encoder, "
        f"in {time.perf_counter() - started:.0f} s"
    )
    # Calibrations without each pack: its limits here and in part 2.
    tables = {
        pack.name: calibrate([s for s in now if s.pack != pack.name]) for pack in packs
    }
    (OUT / "calibration").mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        (OUT / "calibration" / f"without-{name}.json").write_text(
            json.dumps(table), "utf-8"
        )
    print(
        "\nIn % of covered questions, mean of the seeds. first: right topic "
        "first; best: best possible right at ≤ 3 % wrong (chosen on the "
        "test itself); at the limits calibrated without the pack, for its "
        "phrasings per topic (p): right, wrong (worst seed), did you mean with "
        "the right topic among the buttons, right directly or as a button, "
        "out of scope caught; share: right / best.\n"
    )
    print(
        "| pack | k (p) | first before → now | best before → now | limits | right "
        "| wrong (worst) | buttons right | right or button | caught | share |"
    )
    print("| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    report: dict[str, Any] = {}
    for pack in packs:
        for size in (*SIZES, ALL):
            mine = [s for s in now if s.pack == pack.name and s.size == size]
            if not mine:
                continue
            limits = limits_for(mine[0].phrasings, TARGET, tables[pack.name])
            rows = [at_limits(s, limits) for s in mine]
            old = [
                at_limits(s, limits)
                for s in before
                if s.pack == pack.name and s.size == size
            ]

            def mean(key: str, rows: list[dict[str, float]] = rows) -> float:
                values = [r[key] for r in rows if not np.isnan(r[key])]
                return 100 * float(np.mean(values)) if values else float("nan")

            worst = 100 * max(r["wrong"] for r in rows)
            share = mean("right") / max(1e-9, mean("best"))
            report[f"{pack.name} {'all' if size == ALL else size}"] = {
                "phrasings": mine[0].phrasings,
                "first_before": mean("first", old),
                "first": mean("first"),
                "best_before": mean("best", old),
                "best": mean("best"),
                "limits": [limits.confidence, limits.margin, limits.offer],
                "right": mean("right"),
                "wrong_worst": worst,
                "buttons": mean("buttons"),
                "caught": mean("caught"),
                "share": share,
            }
            print(
                f"| {pack.name} | {'all' if size == ALL else size} "
                f"({mine[0].phrasings:g}) | "
                f"{mean('first', old):.1f} → {mean('first'):.1f} "
                f"| {mean('best', old):.1f} → {mean('best'):.1f} "
                f"| {limits.confidence:.3f}/{limits.margin:.3f} "
                f"| {mean('right'):.1f} | {worst:.1f} | {mean('buttons'):.1f} "
                f"| {mean('right') + mean('buttons'):.1f} | {mean('caught'):.1f} "
                f"| {share:.2f} |",
                flush=True,
            )
    for size in (2, 3):
        gains = [
            r["best"] - r["best_before"]
            for key, r in report.items()
            if key.endswith(f" {size}")
        ]
        print(
            f"\nBest possible at {size} phrasings, mean over the packs: "
            f"+{np.mean(gains):.1f} points with the encoder"
        )
    return report


def write_training_data(the_cut: Cut, pack: PackSet, into: Path) -> Path:
    """What `rasa train nlu` reads for the cut: data/ and one FAQ file."""
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(ROOT / "data", into / "data")
    blocks, responses = [], {}
    by_topic: dict[tuple[str, str], list[str]] = {}
    for text, topic, language in the_cut.examples:
        by_topic.setdefault((topic, language), []).append(text)
    for (topic, language), texts in sorted(by_topic.items()):
        metadata: dict[str, Any] = {"lang": language}
        title = next(iter(pack.titles.get(topic) or []), None)
        if title:
            metadata["title"] = title
        blocks.append(
            {
                "intent": topic,
                "metadata": metadata,
                "examples": "".join(f"- {text}\n" for text in texts),
            }
        )
        # A third-party class has no answer: its name stands for one.
        answers = pack.answers.get(topic) or [title or topic]
        responses[f"utter_{topic}"] = [{"text": answer} for answer in answers]
    if pack.not_in_faq:
        own = "".join(f"- {text}\n" for text in pack.not_in_faq)
        blocks.append({"intent": NOT_IN_FAQ, "examples": own})
    (into / "faq.yml").write_text(
        yaml.safe_dump(
            {"version": "3.1", "nlu": blocks, "responses": responses},
            allow_unicode=True,
        ),
        "utf-8",
    )
    return into


def train(name: str, config: Path, data: Path, calibration: Path | None) -> Path:
    env = {**os.environ, "RASA_MAX_CACHE_SIZE": "0"}
    if calibration:
        env["RELAIS_GATE_CALIBRATION"] = str(calibration)
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"), "train", "nlu",
            "--config", str(config), "--nlu", str(data),
            "--domain", str(ROOT / "domain.yml"),
            "--out", str(OUT / "models"), "--fixed-model-name", name,
        ],
        check=True, cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return OUT / "models" / f"{name}.tar.gz"


async def endings(
    model: Path, questions: list[HeldOutQuestion]
) -> tuple[Counter[str], float]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    await agent.parse_message("bonjour")  # warm
    counts: Counter[str] = Counter()
    seconds = []
    for question in questions:
        started = time.perf_counter()
        parse = await agent.parse_message(question.text)
        seconds.append(time.perf_counter() - started)
        counts[ending(question, parse)] += 1
    return counts, statistics.median(seconds)


def shares(counts: Counter[str]) -> dict[str, float]:
    """The endings of one model's questions, in % (covered; caught: uncovered)."""
    covered = sum(
        counts[k]
        for k in ("right", "wrong", "buttons_right", "buttons_other", "elsewhere")
    )
    uncovered = counts["caught"] + counts["answered"]

    def share(*keys: str) -> float:
        return 100 * sum(counts[k] for k in keys) / max(1, covered)

    return {
        "right": share("right"),
        "wrong": share("wrong"),
        "buttons": share("buttons_right", "buttons_other"),
        "buttons_right": share("buttons_right"),
        "elsewhere": share("elsewhere"),
        "caught": 100 * counts["caught"] / uncovered if uncovered else float("nan"),
    }


def part_two(
    packs: list[PackSet], sizes: list[int], default_sizes: list[int]
) -> dict[str, Any]:
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    default_config = rasa_default_config(OUT)
    print(
        "\nPart 2: the trained NLU pipeline (seed 0). In % of covered questions: "
        "right, wrong, did you mean (right topic among the buttons), elsewhere "
        "(a human, out of scope); out of scope caught; median parse time.\n"
    )
    print(
        "| pack | k | pipeline | right | wrong | did you mean (right among) "
        "| elsewhere | caught | ms | train s |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    report: dict[str, Any] = {}
    for pack in packs:
        calibration = OUT / "calibration" / f"without-{pack.name}.json"
        for size in sorted(set(sizes) | set(default_sizes)):
            the_cut = cut(pack, size, 0)
            data = write_training_data(
                the_cut, pack, OUT / "data" / f"{pack.name}-{size}"
            )
            questions = [
                HeldOutQuestion(
                    text, expected, "out_of_scope" if expected == NOT_IN_FAQ else ""
                )
                for text, expected in the_cut.held_out
            ]
            pipelines = []
            if size in sizes:
                pipelines.append(("relais", ROOT / "config.yml", calibration))
            if size in default_sizes:
                pipelines.append(("rasa-default", default_config, None))
            for name, config, table in pipelines:
                started = time.perf_counter()
                model = train(f"{pack.name}-{size}-{name}", config, data, table)
                trained = time.perf_counter() - started
                counts, latency = asyncio.run(endings(model, questions))
                row = shares(counts)
                report[f"{pack.name} {size} {name}"] = {**row, "ms": 1000 * latency}
                print(
                    f"| {pack.name} | {size} | {name} | {row['right']:.1f} "
                    f"| {row['wrong']:.1f} | {row['buttons']:.1f} "
                    f"({row['buttons_right']:.1f}) | {row['elsewhere']:.1f} "
                    f"| {row['caught']:.1f} | {1000 * latency:.0f} | {trained:.0f} |",
                    flush=True,
                )
                model.unlink(missing_ok=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-rasa", action="store_true", help="part 1 only")
    parser.add_argument("--rasa-sizes", default="1,2,3,8", help="Relais' pipeline")
    parser.add_argument(
        "--default-sizes", default="3",
        help="Rasa's default pipeline (4 to 9 minutes per training on banking77)",
    )  # fmt: skip
    parser.add_argument("--packs", help="comma-separated pack names (default: all)")
    parser.add_argument(
        "--reuse-samples", action="store_true",
        help="part 1 reads the ranked cuts of `make calibrate-gate` "
        "(var/calibration/samples.json) instead of ranking them again",
    )  # fmt: skip
    arguments = parser.parse_args()
    started = time.perf_counter()
    packs = all_packs()
    if arguments.packs:
        wanted = arguments.packs.split(",")
        packs = [p for p in packs if p.name in wanted]
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"part one": part_one(packs, arguments.workers, arguments.reuse_samples)}
    if not arguments.no_rasa:
        sizes = [int(s) for s in arguments.rasa_sizes.split(",") if s]
        default_sizes = [int(s) for s in arguments.default_sizes.split(",") if s]
        report["part two"] = part_two(packs, sizes, default_sizes)
    (OUT / "report.json").write_text(json.dumps(report, indent=1), "utf-8")
    print(
        f"\n{(time.perf_counter() - started) / 60:.1f} minutes; {OUT / 'report.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
