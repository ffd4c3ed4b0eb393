"""`make bench-coldstart`: a pack at hour one, against Rasa's default pipeline.

For the shipped pack, trains Relais' NLU pipeline and Rasa's default one (the
config.yml that `rasa init` writes) on the first 1, 3 and 8 examples of each
topic and language, and on all of them, then asks each model every held-out
question in tests/nlu/. Prints, for covered questions, how many were
answered right, answered wrong, got "did you mean" buttons (and how many of
those buttons held the right topic), or went elsewhere (a human, "out of
scope"); for the others, how many were caught. Both pipelines see the same
examples in the same run; only the examples are cut, never the held-out
questions.

The gate's limits are derived from each cut pack when it is trained
(bot/nlu/topics.py); the cross-validation rates behind them were chosen on
tests/nlu/, so these figures are not blind (docs/benchmarks.md says so).

`--reuse-models` evaluates the models of an earlier run again without
training (after a change to the gate, which is not trained).
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
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from bench_nlu import rasa_default_config
from rasa.utils.log_utils import configure_structlog

from bot.faq.pack import parse_examples
from bot.nlu.evaluation import HeldOutQuestion, load_questions, predicted_answer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench-coldstart"
SIZES: tuple[int | None, ...] = (1, 3, 8, None)  # None: every example


def cut_pack(size: int | None, into: Path) -> Path:
    """data/ with only the first `size` examples of each FAQ block."""
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(ROOT / "data", into)
    if size is None:
        return into
    for path in (into / "faq").glob("*.yml"):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in content.get("nlu") or []:
            kept = parse_examples(block.get("examples") or "")[:size]
            block["examples"] = "".join(f"- {text}\n" for text in kept)
        path.write_text(yaml.safe_dump(content, allow_unicode=True), "utf-8")
    return into


def train(name: str, config: Path, data: Path) -> Path:
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"), "train", "nlu",
            "--config", str(config), "--nlu", str(data),
            "--domain", str(ROOT / "domain.yml"),
            "--out", str(OUT / "models"), "--fixed-model-name", name,
        ],
        check=True, cwd=ROOT,
        env={**os.environ, "RASA_MAX_CACHE_SIZE": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return OUT / "models" / f"{name}.tar.gz"


def ending(question: HeldOutQuestion, parse: dict[str, Any]) -> str:
    """How one question ended: right, wrong, buttons (right topic offered or
    not), elsewhere (a human, out of scope); caught or answered if uncovered."""
    answer = predicted_answer(parse)
    if question.expected == "out_of_scope":
        return "caught" if answer is None else "answered"
    if answer is not None:
        return "right" if answer == question.expected else "wrong"
    if (parse.get("intent") or {}).get("name") == "nlu_fallback":
        offered = (parse.get("gate") or {}).get("candidates") or []
        topic = question.expected.split("/", 1)[1]
        return "buttons_right" if topic in offered else "buttons_other"
    return "elsewhere"


async def endings(model: Path, questions: list[HeldOutQuestion]) -> Counter[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    counts: Counter[str] = Counter()
    for question in questions:
        counts[ending(question, await agent.parse_message(question.text))] += 1
    return counts


def row(label: str, counts: Counter[str]) -> str:
    covered = sum(counts[k] for k in ("right", "wrong", "buttons_right",
                                      "buttons_other", "elsewhere"))  # fmt: skip
    uncovered = counts["caught"] + counts["answered"]

    def share(*keys: str, total: int = covered) -> str:
        return f"{100 * sum(counts[k] for k in keys) / max(1, total):5.1f}"

    return (
        f"{label:<24} {share('right')} {share('wrong')} "
        f"{share('buttons_right', 'buttons_other')} ({share('buttons_right')}) "
        f"{share('elsewhere')}  {share('right', 'buttons_right')}"
        f"   {share('caught', total=uncovered)}"
    )


def main() -> int:
    reuse = "--reuse-models" in sys.argv[1:]
    configure_structlog(logging.WARNING)
    default_config = rasa_default_config(OUT)
    questions = load_questions(ROOT / "tests" / "nlu")
    print(
        f"{len(questions)} held-out questions in tests/nlu/. Columns: right, wrong, "
        "did you mean (right topic among the buttons), elsewhere, right directly "
        "or as a button; not covered, caught. All in %.",
        flush=True,
    )
    report: dict[str, dict[str, int]] = {}
    for size in SIZES:
        label = "all examples" if size is None else f"first {size} per topic+lang"
        data = cut_pack(size, OUT / f"data-{size or 'all'}")
        for name, config in (("relais", ROOT / "config.yml"),
                             ("rasa-default", default_config)):  # fmt: skip
            started = time.perf_counter()
            model = OUT / "models" / f"{name}-{size or 'all'}.tar.gz"
            if not (reuse and model.exists()):
                model = train(f"{name}-{size or 'all'}", config, data)
            counts = asyncio.run(endings(model, questions))
            report[f"{name} {label}"] = dict(counts)
            seconds = time.perf_counter() - started
            print(row(f"{name}, {size or 'all'}", counts), f"  [{seconds:.0f} s]",
                  flush=True)  # fmt: skip
    (OUT / "results.json").write_text(json.dumps(report, indent=2))
    print(f"Details: {OUT / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
