"""`make bench-queue`: the handoff queue under load, on the machine's PostgreSQL.

1. Claims: 2,000 waiting tickets, 20 agents (threads, one connection each)
   claiming the next ticket until none is left, with `claim_next` (FOR UPDATE
   SKIP LOCKED + guarded UPDATE). Baselines in the same run: one agent alone,
   and 20 agents with a naive read-then-update (no lock, no guard), which is
   what the guard prevents. Prints claims per second and double claims.
2. Latencies with the real servers (Rasa, action server, queue on
   PostgreSQL): from a person's "I want a human" to the ticket being
   claimable, and from an agent's `reply` to the event in the tracker, next to
   the round trip of a plain FAQ question as the baseline.

No timing is asserted anywhere: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import requests
from sqlalchemy import insert, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import get_session_factory, upgrade  # noqa: E402
from bot.handoff import agent as agent_ops  # noqa: E402
from bot.handoff import queue  # noqa: E402
from bot.handoff.models import ASSIGNED, WAITING, Ticket, utcnow  # noqa: E402
from bot.rasa_api import RasaClient  # noqa: E402
from tests.conftest import TEST_ENVIRONMENT, postgres_database  # noqa: E402
from tests.servers import running_relais  # noqa: E402

TICKETS = 2000
AGENTS = 20
ROUND_TRIPS = 20
TOKEN = "bench-token"

Claim = Callable[[str, str], int | None]  # (database url, agent) -> ticket id


def fill(url: str, count: int) -> None:
    """`count` waiting tickets, one per conversation, in one statement."""
    now = utcnow()
    rows = [
        {
            "conversation_id": f"bench-{uuid.uuid4().hex}",
            "channel": "rest",
            "language": "fr",
            "reason": "asked_for_human",
            "priority": ("urgent", "high", "normal")[i % 3],
            "status": WAITING,
            "escalations": 1,
            "transcript": "[]",
            "last_message": "je veux parler à quelqu'un",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with get_session_factory(url).begin() as session:
        session.execute(update(Ticket).values(status="closed"))
        session.execute(insert(Ticket), rows)


def claim_next(url: str, agent: str) -> int | None:
    with get_session_factory(url).begin() as session:
        ticket = queue.claim_next(session=session, agent=agent)
        return None if ticket is None else int(ticket.id)


def naive_claim(url: str, agent: str) -> int | None:
    """Read the first waiting ticket, then take it: no lock, no guard."""
    with get_session_factory(url).begin() as session:
        candidate = session.execute(
            select(Ticket.id)
            .where(Ticket.status == WAITING)
            .order_by(Ticket.created_at)
            .limit(1)
        ).scalar_one_or_none()
        if candidate is None:
            return None
        session.execute(
            update(Ticket)
            .where(Ticket.id == candidate)
            .values(status=ASSIGNED, agent=agent, claimed_at=utcnow())
        )
        return int(candidate)


def run_agents(url: str, agents: int, claim: Claim) -> tuple[float, int, int]:
    """Agents claim until the queue is empty: (claims/s, claims, double claims)."""
    fill(url, TICKETS)
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(agents + 1)

    def work(name: str) -> None:
        barrier.wait()
        while (ticket_id := claim(url, name)) is not None:
            with lock:
                claimed.append(ticket_id)

    threads = [
        threading.Thread(target=work, args=(f"agent{i}",)) for i in range(agents)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    doubles = sum(count - 1 for count in Counter(claimed).values() if count > 1)
    return len(claimed) / seconds, len(claimed), doubles


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def milliseconds(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms, "
        f"p95 {percentile(values, 0.95) * 1000:7.1f} ms"
    )


def latencies(url: str, work: Path) -> None:
    env = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": url,
        "RELAIS_SPOOL_DIR": str(work / "spool"),
    }
    print("Starting Rasa and the action server (about a minute)...", flush=True)
    with running_relais(work, env, TOKEN) as rasa_url:
        factory = get_session_factory(url)
        rasa = RasaClient(rasa_url, TOKEN)

        def say(sender: str, text: str) -> None:
            response = requests.post(
                f"{rasa_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                timeout=120,
            )
            response.raise_for_status()

        say("warm-up", "bonjour")
        faq, handoff, reply = [], [], []
        for i in range(ROUND_TRIPS):
            started = time.perf_counter()
            say(f"faq-{i}", "Quels lots sont concernés par le rappel ?")
            faq.append(time.perf_counter() - started)

            sender = f"handoff-{i}-{uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            say(sender, "je veux parler à quelqu'un")
            while True:  # claimable = visible to another connection, committed
                with factory.begin() as session:
                    ticket = queue.open_ticket_for(
                        session=session, conversation_id=sender
                    )
                if ticket is not None:
                    break
                time.sleep(0.005)
            handoff.append(time.perf_counter() - started)

            with factory.begin() as session:
                queue.claim(session=session, ticket_id=ticket.id, agent="bench")
            text = f"Bonjour, ici l'équipe ({i})"
            started = time.perf_counter()
            agent_ops.reply(
                factory=factory, rasa=rasa, ticket_id=ticket.id, agent="bench",
                text=text,
            )  # fmt: skip
            while not any(
                event.get("text") == text
                for event in rasa.tracker(sender).get("events", [])
            ):
                time.sleep(0.005)
            reply.append(time.perf_counter() - started)

        print(f"\nRound trips over REST, {ROUND_TRIPS} each:")
        print(f"  baseline: FAQ question answered      {milliseconds(faq)}")
        print(f"  handoff request -> ticket claimable  {milliseconds(handoff)}")
        print(f"  agent reply -> event in the tracker  {milliseconds(reply)}")


def main() -> int:
    with postgres_database() as url:
        upgrade(url)
        print(f"{TICKETS} tickets on PostgreSQL, claimed until none is left:")
        for label, agents, claim in (
            ("1 agent, claim_next (baseline)", 1, claim_next),
            (f"{AGENTS} agents, claim_next", AGENTS, claim_next),
            (f"{AGENTS} agents, naive read-then-update", AGENTS, naive_claim),
        ):
            rate, claims, doubles = run_agents(url, agents, claim)
            print(
                f"  {label:<42} {rate:8.0f} claims/s  "
                f"{claims:5d} claims  {doubles:4d} double claims"
            )
        with tempfile.TemporaryDirectory() as work:
            latencies(url, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
