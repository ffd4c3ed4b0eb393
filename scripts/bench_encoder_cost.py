"""`make bench-encoder-cost`: what the sentence encoder costs a Rasa process.

Loads the trained model (models/relais.tar.gz) twice, each in a fresh
process, one after the other in the same run: as it runs, and with the
sentence encoder switched off (`bot.nlu.encoder.encode` returns zero
vectors and the package is never loaded: the pipeline as it was before
issue 27, minus nothing else). For each: the model's load time, the
process's memory once loaded and after parsing every held-out question of
the pack three times, and the median and 95th-percentile parse time per
message (Rasa's whole NLU pipeline, one message at a time as a server
parses them). Issue 27's limits: +15 ms median, +10 s load, +300 MB.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(model: Path, encoder_on: bool) -> dict[str, float]:
    """Runs in the child process."""
    import numpy as np
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    from bot.nlu import encoder
    from bot.publish.evaluation import load_questions

    configure_structlog(logging.WARNING)
    if not encoder_on:
        width = encoder.UniversalSentenceEncoder.dimensions
        encoder.encode = lambda texts, name=None: np.zeros(  # type: ignore[assignment]
            (len(texts), width), dtype=np.float32
        )
    pack = Path(os.environ.get("RELAIS_PACK") or ROOT / "packs" / "dairy-recall")
    questions = [q.text for q in load_questions(pack / "heldout")]
    started_rss = _rss_mb()
    started = time.perf_counter()
    agent = Agent.load(str(model))
    load_seconds = time.perf_counter() - started
    loaded_rss = _rss_mb()

    async def parse_all() -> list[float]:
        await agent.parse_message("bonjour")
        seconds = []
        for _ in range(ROUNDS):
            for text in questions:
                begun = time.perf_counter()
                await agent.parse_message(text)
                seconds.append(time.perf_counter() - begun)
        return seconds

    seconds = asyncio.run(parse_all())
    return {
        "load_s": load_seconds,
        "memory_loaded_mb": loaded_rss,
        "memory_after_mb": _rss_mb(),
        "memory_model_mb": loaded_rss - started_rss,
        "p50_ms": 1000 * statistics.median(seconds),
        "p95_ms": 1000 * sorted(seconds)[int(0.95 * len(seconds))],
        "messages": len(seconds),
    }


def main() -> int:
    if len(sys.argv) == 3:  # the child
        print(json.dumps(measure(Path(sys.argv[1]), sys.argv[2] == "on")))
        return 0
    model = ROOT / "models" / "relais.tar.gz"
    if not model.exists():
        print(f"{model} is missing: run `make train`.", file=sys.stderr)
        return 2
    results = {}
    for variant in ("off", "on"):
        child = subprocess.run(
            [sys.executable, __file__, str(model), variant],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        results[variant] = json.loads(child.stdout.strip().splitlines()[-1])
    off, on = results["off"], results["on"]
    print(f"{model.name}, {on['messages']} parses each\n")
    print("| | encoder off | encoder on | difference |")
    print("| --- | ---: | ---: | ---: |")
    for key, label in (
        ("p50_ms", "median parse, ms"),
        ("p95_ms", "95th percentile parse, ms"),
        ("load_s", "model load, s"),
        ("memory_loaded_mb", "process memory once loaded, MB"),
        ("memory_after_mb", "process memory after the parses, MB"),
    ):
        print(
            f"| {label} | {off[key]:.1f} | {on[key]:.1f} | {on[key] - off[key]:+.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
