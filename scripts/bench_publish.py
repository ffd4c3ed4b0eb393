"""From an editor adding a topic to the running assistant answering it.

Real Rasa server and action server on a copy of the project. People keep
talking to the assistant over REST the whole time (PEOPLE conversations, one
message every PAUSE seconds each). The editor adds a topic file and runs
`relais publish` (lint, train, evaluate both models, load the new one into
the running Rasa); then the new question is asked until its answer comes back.

Printed: each step's duration, adding the topic -> first answer, and every
message sent meanwhile (answered or not, latency), against the same traffic
before the publish (baseline). And what a restart instead of a swap would
cost: a second Rasa process is started on the new model and timed until it
answers; during that time a restarted server answers nobody.
No timing is asserted: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import upgrade  # noqa: E402
from tests.conftest import FIXTURES, TEST_ENVIRONMENT  # noqa: E402
from tests.servers import (  # noqa: E402
    copy_project,
    free_port,
    running_relais,
    wait_until_up,
)

TOKEN = "bench-token"
PEOPLE = 4
PAUSE = 0.5
BASELINE_SECONDS = 20
NEW_TOPIC = FIXTURES / "publish" / "health_survey.yml"
SURVEY_QUESTION = "santé publique france m'a appelé pour une enquête, c'est normal ?"
SURVEY_ANSWER = "Santé publique France et les Agences régionales de santé"
QUESTIONS = [
    "Quels lots sont concernés par le rappel ?",
    "comment me faire rembourser",
    "what are the symptoms of listeria",
    "c'est quoi la listeria",
]


@dataclass
class Message:
    sent: float  # perf_counter
    seconds: float
    answered: bool


@dataclass
class Traffic:
    """People talking to the assistant in the background."""

    url: str
    messages: list[Message] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    sent_per_sender: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def person(self, index: int) -> None:
        sender = f"bench-{index}-{uuid.uuid4().hex[:6]}"
        self.senders.append(sender)
        count = 0
        while not self.stop.is_set():
            text = QUESTIONS[count % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                response = requests.post(
                    f"{self.url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text},
                    timeout=300,
                )
                answered = response.status_code == 200 and any(
                    m.get("text") for m in response.json()
                )
            except requests.RequestException:
                answered = False
            count += 1
            self.sent_per_sender[sender] = count
            self.messages.append(
                Message(started, time.perf_counter() - started, answered)
            )
            time.sleep(PAUSE)

    def between(self, start: float, end: float) -> list[Message]:
        """Messages sent in [start, end]."""
        return [m for m in self.messages if start <= m.sent <= end]

    def in_flight(self, start: float, end: float) -> list[Message]:
        """Messages waiting for their answer at some point in [start, end]."""
        return [
            m for m in self.messages if m.sent <= end and m.sent + m.seconds >= start
        ]


def summary(messages: list[Message]) -> str:
    if not messages:
        return "no message"
    seconds = sorted(m.seconds for m in messages)
    p95 = seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]
    answered = sum(m.answered for m in messages)
    return (
        f"{answered}/{len(messages)} answered, median "
        f"{statistics.median(seconds) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {seconds[-1] * 1000:.0f} ms"
    )


def ask(url: str, text: str) -> str:
    response = requests.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": uuid.uuid4().hex, "message": text},
        timeout=300,
    )
    response.raise_for_status()
    return " ".join(m.get("text", "") for m in response.json())


def user_messages(url: str, sender: str) -> list[dict]:
    """What Rasa's tracker holds of what `sender` wrote."""
    tracker = requests.get(
        f"{url}/conversations/{sender}/tracker", params={"token": TOKEN}, timeout=60
    ).json()
    return [event for event in tracker["events"] if event["event"] == "user"]


def cold_start_seconds(work: Path, model: Path, env: dict[str, str]) -> float:
    """How long a second Rasa process takes to answer on `model`."""
    port = free_port()
    log = work / "rasa-cold.log"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "rasa"), "run",
            "--model", str(model), "--enable-api", "--auth-token", TOKEN,
            "--interface", "127.0.0.1", "--port", str(port),
            "--endpoints", str(work / "endpoints.yml"),
        ],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/status?token={TOKEN}", process, log)
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        project = work / "project"
        (project / "tests").mkdir(parents=True)
        copy_project(project)
        database_url = f"sqlite:///{work / 'relais.db'}"
        upgrade(database_url)
        env = {
            **os.environ, **TEST_ENVIRONMENT, "RASA_TOKEN": TOKEN,
            "RASA_TELEMETRY_ENABLED": "false", "DATABASE_URL": database_url,
            "RELAIS_PACK": str(project / "packs" / "dairy-recall"),
            "RELAIS_SPOOL_DIR": str(work / "spool"),
        }  # fmt: skip
        live = project / "models" / "relais.tar.gz"
        print("Starting Rasa and the action server (about a minute)...", flush=True)
        with running_relais(work, env, TOKEN, model=live) as url:
            ask(url, QUESTIONS[0])  # warm up
            traffic = Traffic(url)
            people = [
                threading.Thread(target=traffic.person, args=(index,))
                for index in range(PEOPLE)
            ]
            for thread in people:
                thread.start()
            baseline_start = time.perf_counter()
            time.sleep(BASELINE_SECONDS)

            # The editor adds a topic and publishes it.
            added = time.perf_counter()
            (project / "packs" / "dairy-recall" / "faq" / NEW_TOPIC.name).write_bytes(
                NEW_TOPIC.read_bytes()
            )
            steps: list[tuple[float, str]] = []
            publish = subprocess.Popen(
                [str(Path(sys.executable).parent / "relais"), "publish",
                 "--project", str(project), "--agent", "bench"],
                env={**env, "RASA_URL": url}, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            assert publish.stdout is not None
            for line in publish.stdout:
                steps.append((time.perf_counter(), line.rstrip()))
                print(f"  | {line.rstrip()}", flush=True)
            published = time.perf_counter()
            if publish.wait() != 0:
                print("relais publish did not publish: see above.")
                traffic.stop.set()
                return 1
            attempts = 1
            while SURVEY_ANSWER not in ask(url, SURVEY_QUESTION):
                attempts += 1
            answered = time.perf_counter()
            time.sleep(5)
            traffic.stop.set()
            for thread in people:
                thread.join()
            kept = all(
                len(user_messages(url, sender)) == traffic.sent_per_sender[sender]
                for sender in traffic.senders
            )

        def at(prefix: str) -> float:
            return next(when for when, line in steps if line.startswith(prefix))

        training, evaluating = at("Training"), at("Answering")
        loading = at("Loading it")
        loaded = next(when for when, line in steps if ": loaded in" in line)
        print("\nAdding a topic and publishing it, people talking meanwhile:")
        print(f"  check (lint + rasa data validate)  {training - added:6.1f} s")
        print(f"  train                              {evaluating - training:6.1f} s")
        print(f"  evaluate both models               {loading - evaluating:6.1f} s")
        print(f"  load into the running Rasa         {loaded - loading:6.1f} s")
        print(
            f"  topic added -> new model answering {answered - added:6.1f} s "
            f"(asked {attempts}x after publish returned)"
        )
        print("\nMessages (REST, each answered with at least one text):")
        windows = (
            ("baseline, before publishing", baseline_start, added),
            ("while training + evaluating", added, loading),
            ("sent while the model loads", loading, loaded),
            ("whole publish", added, published),
        )
        for label, start, end in windows:
            print(f"  {label:29}{summary(traffic.between(start, end))}")
        in_flight = traffic.in_flight(loading, loaded)
        print(f"  {'waiting while it loads':29}{summary(in_flight)}")
        print(f"  every conversation kept all its messages: {kept}")
        print("\nA restart instead of a swap (second Rasa process, new model):")
        cold = cold_start_seconds(work, live, env)
        print(f"  start -> answering {cold:6.1f} s, answering nobody meanwhile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
