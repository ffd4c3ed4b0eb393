"""What response targets and auto-assignment cost when the queue is full:
2,000 open conversations and 20 agents, on PostgreSQL; a tenth of the
conversations passed to the press team, which 4 of the agents are in.

Per event, as the console meets them:
- the queue page's update (every half second per open page): the open
  tickets with each one's clock, late ones first; the baseline, in the same
  run, is the read of the open tickets alone (what every update does), and
  the 2,000 clocks are timed apart;
- the admins' banner (every page): which conversations are late;
- the breach check (every 30 seconds): the clocks past target, recorded once;
- an auto-assignment round after a conversation arrives and an agent frees a
  place (every 3 seconds at most).
Each is timed 30 times; the median and the 95th percentile are printed. No
timing is asserted; figures go to docs/benchmarks.md.

    make bench-team          # or: python scripts/bench_team.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RELAIS_ENV", "local")
os.environ.setdefault("RASA_TOKEN", "bench")
os.environ.setdefault("RELAIS_CONSOLE_SECRET", "bench-console-secret")
os.environ.setdefault("RELAIS_ACTIONS_SECRET", "bench-actions-secret")

from bot.console import accounts, assignment  # noqa: E402
from bot.console.app import queue_snapshot  # noqa: E402
from bot.db import get_session_factory, upgrade, utcnow  # noqa: E402
from bot.handoff import breaches, queue, sla  # noqa: E402
from bot.handoff.hours import TeamHours  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from tests.conftest import postgres_database  # noqa: E402

OPEN = 2_000
AGENTS = 20
CAP = 5
PRESS_MEMBERS = 4
ROUNDS = 30


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds, over ROUNDS runs."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    with postgres_database() as url:
        upgrade(url)
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        settings = get_settings()
        factory = get_session_factory(url)
        now = utcnow()
        with factory.begin() as session:
            for n in range(AGENTS):
                agent = accounts.add_agent(
                    session=session, name=f"agent{n:02d}", role="agent",
                    password="bench-password-1",
                )  # fmt: skip
                agent.available = True
                agent.teams = "press" if n < PRESS_MEMBERS else ""
            for n in range(OPEN):
                ticket = queue.enqueue(
                    session=session,
                    request=queue.HandoffRequest(
                        f"web-{n}", "socketio", "fr" if n % 4 else "en",
                        "asked_for_human", ("urgent", "high", "normal")[n % 3], "?",
                    ),
                    now=now - timedelta(seconds=OPEN - n),
                )  # fmt: skip
                ticket.team = "press" if n % 10 == 0 else None
        targets = settings.profile.response_targets
        hours = TeamHours.from_settings(settings)

        def first_round() -> None:
            with factory.begin() as session:
                assignment.assign_round(session, CAP)

        started = time.perf_counter()
        first_round()
        first_ms = (time.perf_counter() - started) * 1000

        def queue_before() -> None:
            with factory.begin() as session:
                queue.list_open(session=session)

        with factory.begin() as session:
            open_tickets = queue.list_open(session=session)
            session.expunge_all()

        def clocks_alone() -> None:
            moment = utcnow()
            for ticket in open_tickets:
                sla.clock(ticket, moment, targets, hours)

        def banner() -> None:
            with factory.begin() as session:
                breaches.late_now(session, utcnow(), targets, hours)

        def breach_check() -> None:
            with factory.begin() as session:
                breaches.check(session, utcnow(), targets, hours)

        counter = iter(range(10**6))

        def arrival_and_round() -> None:
            n = next(counter)
            with factory.begin() as session:
                arrival = queue.HandoffRequest(
                    f"new-{n}", "socketio", "fr", "asked_for_human", "high", "?"
                )
                queue.enqueue(session=session, request=arrival).team = (
                    "press" if n % 10 == 0 else None
                )
                held = session.scalars(
                    queue.select(queue.Ticket.id)
                    .where(
                        queue.Ticket.agent == f"agent{n % AGENTS:02d}",
                        queue.Ticket.status == "assigned",
                    )
                    .limit(1)
                ).first()
                if held is not None:
                    queue.close(session=session, ticket_id=held,
                                agent=f"agent{n % AGENTS:02d}")  # fmt: skip
            with factory.begin() as session:
                assignment.assign_round(session, CAP)

        results = {
            "queue read alone (before issue 31)": timed(queue_before),
            "2,000 clocks, computed (no database)": timed(clocks_alone),
            "queue update with clocks, late first": timed(
                lambda: queue_snapshot(settings)
            ),
            "admins' banner (late conversations)": timed(banner),
            "breach check (recorded once)": timed(breach_check),
            "a conversation arrives, a place frees, a round": timed(arrival_and_round),
        }
        print(f"{OPEN:,} open conversations, {AGENTS} agents (cap {CAP}), PostgreSQL")
        print(f"first round: {first_ms:.0f} ms ({AGENTS * CAP} conversations given)")
        for name, (median, p95) in results.items():
            print(f"  {name:<48} median {median:7.1f} ms   p95 {p95:7.1f} ms")
        base = results["queue read alone (before issue 31)"][0]
        with_clocks = results["queue update with clocks, late first"][0]
        print(f"queue update with clocks / read alone: {with_clocks / base:.2f}x")
        get_settings.cache_clear()


if __name__ == "__main__":
    main()
