"""From an editor saving an answer to every action server sending the new text.

Two real action servers (`relais actions`), each on its own copy of the
pack (as on two machines), one PostgreSQL database. Each round records a new
approved version of one answer, as the console does, then asks both action
servers for that answer directly, as Rasa asks them, until each sends the new
text. A second measure edits a topic's file by hand on one action server's
pack (a topic with no version in the database: the file route). Baseline: the
same call with no edit. No timing is asserted: figures go to
docs/benchmarks.md (target: under 2 seconds on every action server).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import get_session_factory, upgrade  # noqa: E402
from bot.faq import versions  # noqa: E402
from bot.faq.pack import parse_topic_file  # noqa: E402
from tests.conftest import FIXTURES, TEST_ENVIRONMENT, postgres_database  # noqa: E402
from tests.servers import (  # noqa: E402
    _action_server,
    _start,
    _stop,
    free_port,
    wait_until_up,
)

ROUNDS = 30
PACK = ROOT / "packs" / "dairy-recall"
TOPIC = "lot_numbers"  # the tracker fixture's topic
FILE_TOPIC = "refund"
FILE_MARKER = "Vous serez remboursé intégralement"


def milliseconds(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms, "
        f"p95 {p95 * 1000:7.1f} ms, max {max(values) * 1000:7.1f} ms"
    )


ACTIONS_SECRET = TEST_ENVIRONMENT["RELAIS_ACTIONS_SECRET"]


def call(url: str, topic: str) -> str:
    tracker = json.loads((FIXTURES / "faq_question_fr.json").read_text("utf-8"))
    selector = tracker["latest_message"]["response_selector"]["faq"]["response"]
    selector["intent_response_key"] = f"faq/{topic}"
    selector["utter_action"] = f"utter_faq/{topic}"
    tracker["latest_message"]["gate"]["candidates"] = [topic]
    sender = uuid.uuid4().hex
    response = requests.post(
        f"{url}/webhook",
        headers={"Authorization": f"Bearer {ACTIONS_SECRET}"},
        json={"next_action": "action_answer_faq", "sender_id": sender,
              "tracker": {**tracker, "sender_id": sender}, "domain": {},
              "version": "3.6.21"},
        timeout=60,
    )  # fmt: skip
    response.raise_for_status()
    return str(response.json()["responses"][0]["text"])


@contextmanager
def action_servers(work: Path, database_url: str) -> Iterator[tuple[str, str]]:
    processes, urls = [], []
    try:
        for name in ("a", "b"):
            shutil.copytree(PACK, work / f"pack-{name}")
            port = free_port()
            env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": database_url,
                   "RELAIS_PACK": str(work / f"pack-{name}"),
                   "RELAIS_SPOOL_DIR": str(work / "spool")}  # fmt: skip
            log = work / f"actions-{name}.log"
            processes.append(_start(_action_server(port), env, log))
            urls.append(f"http://127.0.0.1:{port}")
            wait_until_up(f"{urls[-1]}/health", processes[-1], log)
        yield urls[0], urls[1]
    finally:
        _stop(processes)


def until_new(urls: list[str], topic: str, marker: str, started: float) -> list[float]:
    """Asks each server in turn until each sends `marker`; each one's delay."""
    delays: dict[str, float] = {}
    while len(delays) < len(urls):
        for url in urls:
            if url not in delays and marker in call(url, topic):
                delays[url] = time.perf_counter() - started
    return [delays[url] for url in urls]


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch, postgres_database() as database_url:
        work = Path(scratch)
        upgrade(database_url)
        print("Starting two action servers...", flush=True)
        with action_servers(work, database_url) as (a, b):
            for url in (a, b):
                call(url, TOPIC)  # warm up
            baseline = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                call(a, TOPIC)
                baseline.append(time.perf_counter() - started)

            # The console's route: a new approved version in the database.
            factory = get_session_factory(database_url)
            topic = parse_topic_file(work / "pack-a" / "faq" / f"{TOPIC}.yml")
            on_a, on_b, base = [], [], 0
            for round_number in range(ROUNDS):
                marker = f"Mise à jour {round_number}-{uuid.uuid4().hex[:6]}"
                answers = {**topic.answers, "fr": f"{marker}. {topic.answers['fr']}"}
                with factory.begin() as session:
                    saved = versions.save(
                        session=session,
                        faq_dir=work / "pack-a" / "faq",
                        topic=versions.topic_from(
                            TOPIC,
                            {**versions.content_of(topic), "answers": answers},
                        ),
                        base=base,
                        author="bench",
                        approval_needed=False,
                    )
                    base = saved.version.number
                started = time.perf_counter()  # committed
                delay_a, delay_b = until_new([a, b], TOPIC, marker, started)
                on_a.append(delay_a)
                on_b.append(delay_b)

            # A file edited by hand, on server A's own pack.
            path = work / "pack-a" / "faq" / f"{FILE_TOPIC}.yml"
            original = path.read_text("utf-8")
            assert FILE_MARKER in original, f"{FILE_MARKER!r} not in {path}"
            by_file = []
            for round_number in range(ROUNDS):
                marker = f"Remboursement {round_number}-{uuid.uuid4().hex[:6]}"
                path.write_text(original.replace(FILE_MARKER, marker, 1), "utf-8")
                started = time.perf_counter()
                by_file.extend(until_new([a], FILE_TOPIC, marker, started))
    print(f"\n{ROUNDS} rounds, action servers called directly (as Rasa calls them):")
    print(f"  baseline: the answer, no edit                {milliseconds(baseline)}")
    print(f"  version approved -> new text, server A       {milliseconds(on_a)}")
    print(f"  version approved -> new text, server B       {milliseconds(on_b)}")
    print(f"  file saved by hand -> new text, its server   {milliseconds(by_file)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
