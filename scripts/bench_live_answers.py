"""From an editor saving an answer to a person receiving the new text.

Real Rasa server and action server on a copy of the FAQ pack. Each round
saves a new version of one answer (as an editor's editor would) and asks the
question over REST at once, repeating until the new text comes back; the
baseline is the same question with no edit. No timing is asserted: figures go
to docs/benchmarks.md (target: under 2 seconds).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import upgrade  # noqa: E402
from tests.conftest import TEST_ENVIRONMENT  # noqa: E402
from tests.servers import running_relais  # noqa: E402

ROUNDS = 20
TOKEN = "bench-token"
QUESTION = "quand le rappel a t il commencé"
MARKER_LINE = "• 19 novembre 2026, soir"


def milliseconds(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms, p95 {p95 * 1000:7.1f} ms"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        shutil.copytree(ROOT / "data" / "faq", work / "faq")
        database_url = f"sqlite:///{work / 'relais.db'}"
        upgrade(database_url)
        env = {
            **os.environ, **TEST_ENVIRONMENT, "RASA_TOKEN": TOKEN,
            "RASA_TELEMETRY_ENABLED": "false", "DATABASE_URL": database_url,
            "RELAIS_FAQ_DIR": str(work / "faq"), "RELAIS_SPOOL_DIR": str(work / "sp"),
        }  # fmt: skip
        path = work / "faq" / "timeline.yml"
        original = path.read_text(encoding="utf-8")
        print("Starting Rasa and the action server (about a minute)...", flush=True)
        with running_relais(work, env, TOKEN) as url:

            def ask() -> str:
                response = requests.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": uuid.uuid4().hex, "message": QUESTION},
                    timeout=60,
                )
                response.raise_for_status()
                return " ".join(m.get("text", "") for m in response.json())

            ask()  # warm up
            baseline, live, tries = [], [], []
            for round_number in range(ROUNDS):
                started = time.perf_counter()
                ask()
                baseline.append(time.perf_counter() - started)
                marker = f"Mise à jour {round_number}-{uuid.uuid4().hex[:6]}"
                started = time.perf_counter()
                path.write_text(original.replace(MARKER_LINE, marker, 1), "utf-8")
                attempts = 1
                while marker not in ask():
                    attempts += 1
                live.append(time.perf_counter() - started)
                tries.append(attempts)
        print(f"\n{ROUNDS} rounds over REST:")
        print(f"  baseline: the question, no edit        {milliseconds(baseline)}")
        print(f"  answer saved -> new text received      {milliseconds(live)}")
        print(f"  questions asked until the new text: max {max(tries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
