"""`make bench-nlu`: Relais' pipeline against Rasa's default one, same data, same run.

Trains both NLU models on a pack's training data (data/, and the pack's faq/
and nlu/; `--pack NAME`, default dairy-recall; Rasa's default pipeline is
taken from the config.yml that `rasa init` writes), parses every held-out
question in the pack's heldout/, and prints for covered questions how many
were answered right, answered wrong or declined, and for the others how many
were caught.
Exits 1 when Relais misses a target or does not beat the default pipeline.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import rasa.cli
from rasa.utils.log_utils import configure_structlog

from bot.publish.evaluation import (
    TARGETS,
    Scores,
    evaluate_model,
    load_questions,
    meets,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"


def training_data(pack: Path, into: Path) -> Path:
    """One folder with what `rasa train` reads for `pack`: data/, faq/, nlu/."""
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(ROOT / "data", into / "data")
    shutil.copytree(pack / "faq", into / "faq")
    if (pack / "nlu").is_dir():
        shutil.copytree(pack / "nlu", into / "nlu")
    return into


def train(name: str, config: Path, data: Path) -> tuple[Path, float]:
    """Trains an NLU-only model with `config`; returns its path and seconds taken."""
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"),
            "train",
            "nlu",
            "--config",
            str(config),
            "--nlu",
            str(data),
            "--domain",
            str(ROOT / "domain.yml"),
            "--out",
            str(OUT / "models"),
            "--fixed-model-name",
            name,
        ],
        check=True,
        cwd=ROOT,
        # No training cache: each model's time is a full training.
        env={**os.environ, "RASA_MAX_CACHE_SIZE": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return OUT / "models" / f"{name}.tar.gz", time.perf_counter() - started


def rasa_default_config(into: Path) -> Path:
    """The config.yml that `rasa init` writes, copied from the installed Rasa."""
    into.mkdir(parents=True, exist_ok=True)
    config = into / "default-config.yml"
    shutil.copy(
        Path(rasa.cli.__file__).parent / "initial_project" / "config.yml", config
    )
    return config


def table(results: dict[str, Scores]) -> str:
    rows = [
        ("covered, answered right", "in_scope", "right"),
        ("covered, answered wrong", "in_scope", "wrong"),
        ("covered, declined/clarified", "in_scope", "declined"),
        ("  French: right", "fr", "right"),
        ("  French: wrong", "fr", "wrong"),
        ("  English: right", "en", "right"),
        ("  English: wrong", "en", "wrong"),
        ("not covered, caught", "out_of_scope", "caught"),
    ]
    names = list(results)
    lines = [f"{'':32}" + "".join(f"{name:>12}" for name in names)]
    for label, group, result in rows:
        cells = "".join(
            f"{results[name].rate(group, result) * 100:>11.1f}%" for name in names
        )
        lines.append(f"{label:32}{cells}")
    return "\n".join(lines)


def main() -> int:
    # Rasa logs every parsed message at debug level otherwise.
    configure_structlog(logging.WARNING)
    default_config = rasa_default_config(OUT)
    arguments = sys.argv[1:]
    name = (
        arguments[arguments.index("--pack") + 1]
        if "--pack" in arguments
        else ("dairy-recall")
    )
    pack = ROOT / "packs" / name
    data = training_data(pack, OUT / "data")
    questions = load_questions(pack / "heldout")
    print(f"Pack: {name}")
    counts = {
        group: sum(1 for q in questions if q.group == group)
        for group in ("fr", "en", "out_of_scope")
    }
    print(f"Held-out questions: {counts}")

    results: dict[str, Scores] = {}
    report: dict[str, dict] = {}
    for name, config in (("relais", ROOT / "config.yml"), ("default", default_config)):
        print(f"Training {name} NLU model...", flush=True)
        model, seconds = train(name, config, data)
        evaluation = asyncio.run(evaluate_model(model, questions))
        scores, mistakes, escalated = (
            evaluation.scores,
            evaluation.mistakes,
            evaluation.escalated,
        )
        parse_ms = median(evaluation.parse_seconds) * 1000
        results[name] = scores
        report[name] = {
            "train_seconds": round(seconds, 1),
            "median_parse_ms": round(parse_ms, 1),
            "counts": {group: dict(c) for group, c in scores.counts.items()},
            "escalated_by_trigger": dict(escalated),
        }
        print(f"  trained in {seconds:.0f} s, median parse {parse_ms:.1f} ms")
        if escalated:
            print(f"  sent to a human by an escalation trigger: {dict(escalated)}")
        if name == "relais":
            for question, answer in mistakes:
                print(f"  mistake [{question.expected}] {question.text!r} -> {answer}")

    print()
    print(table(results))
    print()
    ours, default = results["relais"], results["default"]
    passed = True
    for group, result, bound, kind in TARGETS:
        ok = meets(ours, group, result, bound, kind)
        better = (
            ours.rate(group, result) < default.rate(group, result)
            if kind == "max"
            else ours.rate(group, result) > default.rate(group, result)
        )
        passed = passed and ok and better
        sign = "<=" if kind == "max" else ">="
        print(
            f"target {group} {result} {sign} {bound:.0%}: "
            f"{ours.rate(group, result):.1%} {'PASS' if ok else 'FAIL'}; "
            f"default {default.rate(group, result):.1%} "
            f"({'better' if better else 'NOT better'})"
        )
    (OUT / "nlu-results.json").write_text(json.dumps(report, indent=2))
    print(f"\nDetails: {OUT / 'nlu-results.json'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
