"""A surge of people writing at once: Relais against a stock `rasa init` bot.

Each system runs as a deployment runs it: Relais on `make run`'s embedded
defaults (real Rasa server, action server and console; SQLite tracker store,
which the console reads), Relais scaled out as `make run-scaled` runs it (two
Rasa processes and two action servers behind nginx, PostgreSQL, Redis,
RabbitMQ; people write to nginx), and a stock `rasa init` bot. People write
over the REST webhook the held-out questions of the pack (French and
English, never trained on):

- long conversations: one person at a time holds conversations of 30 turns
  (`--turns`) asking the pack's topic titles, and the time to each turn's
  reply shows whether a message costs more as its conversation grows;
- closed loop: 1, 10 and 50 people, each sending their next question as soon
  as the answer to the last one came back (a person starts a new conversation
  every few questions);
- open loop: messages arrive at a fixed rate whatever the answers do
  (`--rate`, 25 msg/s by default), each from a person not already waiting;
- overload: the same at three times the rate the system sustained with 50
  people.

Printed per run: msg/s answered, median, p95 and p99 time to the reply,
errors (no HTTP 200 or no reply before the client gave up), messages missing
from their conversation in the tracker store, and the longest wait. Then the
memory (RSS) of each process. Nothing is asserted: the machines are shared
and noisy, so compare the systems of one run with each other, and write the
figures to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sampling  # noqa: E402

from bot.db import upgrade  # noqa: E402
from bot.faq import load_pack  # noqa: E402
from bot.publish.evaluation import load_questions  # noqa: E402
from tests.conftest import POSTGRES_ADMIN_URL, TEST_ENVIRONMENT  # noqa: E402
from tests.servers import (  # noqa: E402
    free_port,
    running_console,
    running_relais,
    running_scaled,
    wait_until_up,
)

TOKEN = "bench-token"
QUESTIONS_PER_CONVERSATION = 5
# A person who had no reply after this long counts as an error; the figure is
# the client's patience, not a limit on the server.
CLIENT_TIMEOUT = 60.0
# How long a person told to ask again later waits before writing again.
AFTER_HOLDING_SECONDS = 20.0


# The first words of the holding reply (domain.yml, utter_busy_ask_again).
HOLDING_STARTS = ("Votre message est bien reçu", "Your message has been received")


@dataclass
class Run:
    """What one load run saw."""

    name: str
    seconds: float = 0.0
    # Time to the first reply, whatever it was (the answer or a holding reply).
    latencies: list[float] = field(default_factory=list)
    answered: int = 0
    held: int = 0
    errors: int = 0
    silent: int = 0
    # Messages sent per conversation, answered or not.
    sent: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        replied = len(self.latencies)
        if not replied:
            return f"{self.name:<22} nothing answered, {self.errors} errors"
        ordered = sorted(self.latencies)

        def pct(share: float) -> float:
            return ordered[min(replied - 1, int(share * replied))]

        return (
            f"{self.name:<22} {self.answered / self.seconds:6.1f} msg/s  "
            f"median {statistics.median(ordered) * 1000:6.0f} ms  "
            f"p95 {pct(0.95) * 1000:6.0f} ms  p99 {pct(0.99) * 1000:6.0f} ms  "
            f"longest {ordered[-1]:5.1f} s  held {self.held}  "
            f"errors {self.errors}  no reply {self.silent}"
        )


class Person:
    """One person: a sender id that changes every few questions."""

    def __init__(self, run: Run, questions: Iterator[str]) -> None:
        self.run = run
        self.questions = questions
        self.asked = 0
        self.sender = ""
        self.was_held = False  # the last reply was a holding reply

    async def ask(self, session: aiohttp.ClientSession, url: str) -> bool:
        """Sends the next question; whether the answer came back."""
        if self.asked % QUESTIONS_PER_CONVERSATION == 0:
            self.sender = f"surge-{uuid.uuid4().hex[:12]}"
        self.asked += 1
        run = self.run
        run.sent[self.sender] = run.sent.get(self.sender, 0) + 1
        started = time.monotonic()
        try:
            async with session.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": self.sender, "message": next(self.questions)},
                timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT),
            ) as response:
                replies = await response.json(content_type=None)
                ok = response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            ok, replies = False, None
        if not ok:
            run.errors += 1
            return False
        if not replies:
            # A conversation handed to a human is paused: Rasa records the
            # message and answers nothing, which is right, but no latency.
            run.silent += 1
            return False
        run.latencies.append(time.monotonic() - started)
        self.was_held = str(replies[0].get("text", "")).startswith(HOLDING_STARTS)
        if self.was_held:
            run.held += 1
            return False
        run.answered += 1
        return True


async def closed_loop(
    url: str, questions: list[str], people: int, seconds: float
) -> Run:
    run = Run(f"closed loop, {people:>2} people")
    deadline = time.monotonic() + seconds

    async def live(index: int) -> None:
        offset = (index * 7) % len(questions)
        person = Person(run, itertools.cycle(questions[offset:] + questions[:offset]))
        while time.monotonic() < deadline:
            await person.ask(session, url)
            if person.was_held:
                # Told to ask again in a few minutes: a person does not
                # resend at once (a script would; nginx limits those).
                await asyncio.sleep(AFTER_HOLDING_SECONDS)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(live(i) for i in range(people)))
        run.seconds = time.monotonic() - started
    return run


async def open_loop(
    url: str, questions: list[str], rate: float, seconds: float, name: str
) -> Run:
    """`rate` messages per second whatever the answers do. Someone whose
    question was answered may ask the next one; someone told to ask again
    in a few minutes (a holding reply) or handed to a human writes no more
    during the run; the other messages come from new people."""
    run = Run(name)
    cycle = itertools.cycle(questions)
    idle: list[Person] = []
    pending: set[asyncio.Task[None]] = set()

    async def ask(person: Person) -> None:
        if await person.ask(session, url):
            idle.append(person)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            person = idle.pop() if idle else Person(run, cycle)
            task = asyncio.create_task(ask(person))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        run.seconds = seconds
    return run


async def long_conversations(
    url: str, questions: list[str], turns: int, conversations: int
) -> dict[int, list[float]]:
    """One person at a time holds `conversations` conversations of `turns`
    questions each (`questions`: ones the FAQ answers, so that no turn hands
    the conversation to a human and leaves the next ones silent): the time
    to each turn's reply, by turn (1 to `turns`). Alone on the server, the
    time is what the message costs."""
    by_turn: dict[int, list[float]] = {turn: [] for turn in range(1, turns + 1)}
    silent = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def ask(sender: str, text: str) -> tuple[float, bool]:
            started = time.monotonic()
            async with session.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT),
            ) as response:
                replies = await response.json(content_type=None)
            return time.monotonic() - started, bool(replies)

        cycle = itertools.cycle(questions)
        for _ in range(conversations):
            sender = f"long-{uuid.uuid4().hex[:12]}"
            for turn in range(1, turns + 1):
                seconds, replied = await ask(sender, next(cycle))
                silent += not replied  # the stock bot stays silent at times
                by_turn[turn].append(seconds)
    if silent:
        print(f"  ({silent} turns had no reply)")
    return by_turn


def conversation_lines(by_turn: dict[int, list[float]]) -> list[str]:
    """Median time to the reply at a few turns, and the last turn against
    the first and the second (the first also starts the session)."""
    last = max(by_turn)
    median = {turn: statistics.median(times) for turn, times in by_turn.items()}
    shown = sorted({1, 2, 5, 10, 20, last} & set(by_turn))
    lines = [
        f"{len(by_turn[1])} conversations of {last} turns, one person at a time:",
        "  median time to the reply by turn: "
        + ", ".join(f"{turn}: {median[turn] * 1000:.0f} ms" for turn in shown),
        f"  turn {last} against turn 1: {median[last] / median[1]:.2f}x, "
        f"against turn 2: {median[last] / median[2]:.2f}x",
    ]
    return lines


def missing_from_trackers(url: str, runs: list[Run], database: str | None) -> int:
    """Messages sent (answered, held or not) that are not in their
    conversation once the server is quiet again: in the tracker store's
    database when there is one (what survives a restart), else as Rasa's HTTP
    API returns the conversation."""
    if database is not None:
        stored = _stored_messages(database)
        while True:  # messages still in line are being handled
            time.sleep(5)
            again = _stored_messages(database)
            if sum(again.values()) == sum(stored.values()):
                break
            stored = again
    else:
        stored = {}
    missing = 0
    for run in runs:
        for sender, count in run.sent.items():
            if database is None:
                tracker = requests.get(
                    f"{url}/conversations/{sender}/tracker",
                    params={"token": TOKEN},
                    timeout=60,
                ).json()
                events = tracker.get("events", [])
                stored[sender] = sum(1 for e in events if e["event"] == "user")
            missing += max(0, count - stored.get(sender, 0))
    return missing


def _stored_messages(database: str) -> dict[str, int]:
    engine = sa.create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT sender_id, count(*) FROM events "
                    "WHERE type_name = 'user' GROUP BY sender_id"
                )
            ).all()
    finally:
        engine.dispose()
    return {sender: int(count) for sender, count in rows}


def child_processes() -> list[tuple[int, int, str]]:
    """(pid, RSS in KB, command line) of every process this script started."""
    out = subprocess.run(
        ["ps", "--ppid", str(os.getpid()), "-o", "pid=,rss=,args="],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = []
    for row in out.splitlines():
        pid, rss, args = row.split(None, 2)
        if "ps --ppid" not in args:
            found.append((int(pid), int(rss), args))
    return found


def memory() -> list[str]:
    """RSS of every process this script started (and theirs)."""
    lines = []
    for _pid, rss, args in child_processes():
        words = args.split()
        what = " ".join(w for w in words[1:4] if not w.startswith("-"))
        lines.append(f"  {int(rss) / 1024:6.0f} MB  {Path(words[0]).name} {what}")
    return lines


def children() -> dict[str, int]:
    """The Rasa process and the action server this script started: pid by
    role ("rasa", "actions")."""
    found: dict[str, int] = {}
    for pid, _rss, command in child_processes():
        if " run" in command and "rasa" in command and "actions" not in command:
            found.setdefault("rasa", int(pid))
        elif "relais actions" in command or "rasa_sdk" in command:
            found.setdefault("actions", int(pid))
    return found


def profiled_run(
    url: str, questions: list[str], people: int, args: argparse.Namespace
) -> Run:
    """A closed-loop run with the Rasa process and the action server sampled
    by py-spy (scripts/sampling.py); prints where their time went."""
    samplers, outputs = [], {}
    for role, pid in sorted(children().items()):
        outputs[role] = args.profile / f"{role}-{people}-people.txt"
        samplers.append(sampling.sample(pid, args.seconds, outputs[role]))
    run = asyncio.run(closed_loop(url, questions, people, args.seconds))
    for sampler in samplers:
        sampler.wait(timeout=args.seconds + 60)
    print(run.line(), flush=True)
    for role, out in outputs.items():
        title = {"rasa": "Rasa process", "actions": "action server"}[role]
        counts = sampling.split(out)
        print("\n".join(sampling.lines(title, counts, run.answered)), flush=True)
    return run


def load(url: str, questions: list[str], args: argparse.Namespace) -> list[Run]:
    runs = []
    if args.turns:
        # The pack's own topic titles, in both languages: answered directly.
        pack = load_pack(ROOT / "packs" / args.pack / "faq")
        titles = [t.title(lang) for t in pack.values() for lang in ("fr", "en")]
        by_turn = asyncio.run(long_conversations(url, titles, args.turns, 8))
        print("\n".join(conversation_lines(by_turn)), flush=True)
    for people in args.people:
        if args.profile and people == max(args.people):
            runs.append(profiled_run(url, questions, people, args))
            continue
        run = asyncio.run(closed_loop(url, questions, people, args.seconds))
        print(run.line(), flush=True)
        runs.append(run)
    if args.rate:
        name = f"open loop {args.rate:g}/s"
        run = asyncio.run(open_loop(url, questions, args.rate, args.seconds, name))
        print(run.line(), flush=True)
        runs.append(run)
    busiest = runs[len(args.people) - 1] if args.people else None
    if args.overload and busiest and busiest.answered:
        rate = round(3 * busiest.answered / busiest.seconds, 1)
        name = f"overload {rate:g}/s (3x)"
        run = asyncio.run(open_loop(url, questions, rate, args.seconds, name))
        print(run.line(), flush=True)
        runs.append(run)
    return runs


def report(url: str, runs: list[Run], database: str | None = None) -> None:
    missing = missing_from_trackers(url, runs, database)
    print(f"  messages missing from trackers: {missing}")
    print("  memory:")
    print("\n".join(memory()), flush=True)


def bench_relais(work: Path, questions: list[str], args: argparse.Namespace) -> None:
    database_url = f"sqlite:///{work / 'relais.db'}"
    upgrade(database_url)
    env = {
        **os.environ, **TEST_ENVIRONMENT, "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false", "DATABASE_URL": database_url,
        "RELAIS_EVENTS_URL": f"sqlite:///{work / 'tracker.db'}",
        "RELAIS_SPOOL_DIR": str(work / "spool"),
    }  # fmt: skip
    print("\nRelais, embedded defaults (starting, about a minute)", flush=True)
    with running_relais(work, env, TOKEN) as url:
        env["RASA_URL"] = url
        with running_console(work, env):
            report(url, load(url, questions, args), f"sqlite:///{work / 'tracker.db'}")


def bench_scaled(work: Path, questions: list[str], args: argparse.Namespace) -> None:
    env = {
        **os.environ, **TEST_ENVIRONMENT, "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false", "RELAIS_SPOOL_DIR": str(work / "spool"),
    }  # fmt: skip
    print(
        "\nRelais scaled out: 2 Rasa + 2 action servers behind nginx, "
        "PostgreSQL, Redis, RabbitMQ (starting, about a minute)",
        flush=True,
    )
    # nginx's per-address limit is lifted: every simulated person shares
    # this machine's address.
    with running_scaled(work, env, TOKEN, POSTGRES_ADMIN_URL, rate=100_000) as scaled:
        report(scaled.public, load(scaled.public, questions, args), scaled.tracker_url)


@contextmanager
def running_stock(work: Path) -> Iterator[str]:
    """`rasa init`'s bot, trained and served as its README says."""
    rasa = str(Path(sys.executable).parent / "rasa")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    log = work / "stock.log"
    (work / "stock").mkdir()
    subprocess.run(
        [rasa, "init", "--no-prompt", "--init-dir", str(work / "stock")],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        check=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [rasa, "run", "--enable-api", "--auth-token", TOKEN, "--port", str(port),
         "--interface", "127.0.0.1"],
        cwd=work / "stock",
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/status?token={TOKEN}", process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def bench_stock(work: Path, questions: list[str], args: argparse.Namespace) -> None:
    print("\nStock `rasa init` bot, trackers in memory (training it first)")
    with running_stock(work) as url:
        report(url, load(url, questions, args))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40, help="each run's length")
    parser.add_argument("--people", type=int, nargs="*", default=[1, 10, 50])
    parser.add_argument("--rate", type=float, default=25, help="open loop msg/s")
    parser.add_argument("--no-overload", dest="overload", action="store_false")
    parser.add_argument(
        "--systems",
        nargs="*",
        default=["relais", "scaled", "stock"],
        choices=["relais", "scaled", "stock"],
    )
    parser.add_argument("--pack", default="dairy-recall")
    parser.add_argument(
        "--turns",
        type=int,
        default=30,
        help="first, measure what each turn of conversations this long costs (0: skip)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the Rasa process and the action server with py-spy during "
        "the run with the most people, and print where their time goes (raw "
        "stacks kept in DIR)",
    )
    args = parser.parse_args()
    if args.profile:
        if not sampling.available():
            parser.error("--profile needs py-spy (make install installs it)")
        args.profile.mkdir(parents=True, exist_ok=True)
    held_out = load_questions(ROOT / "packs" / args.pack / "heldout")
    questions = [q.text for q in held_out if q.group in ("fr", "en")]
    print(
        f"{len(questions)} held-out questions of {args.pack}, "
        f"{args.seconds:g} s per run, {os.cpu_count()} cores"
    )
    for system in args.systems:
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            {"relais": bench_relais, "scaled": bench_scaled, "stock": bench_stock}[
                system
            ](work, questions, args)
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
