"""`make bench-console`: the console with a long queue, on SQLite and PostgreSQL.

For 1,000 waiting tickets, and 10 as the baseline in the same run:
- queue page render time (GET / as a signed-in agent, server-side render);
- live-update delay: from a ticket being committed (what action_handoff does)
  to the open console's event stream carrying it.
The console runs as `relais console` does (uvicorn, one process). No timing is
asserted: figures go to docs/benchmarks.md (targets: 200 ms and 1 s).
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.console import accounts  # noqa: E402
from bot.db import get_session_factory, upgrade  # noqa: E402
from bot.handoff import queue  # noqa: E402
from tests.conftest import TEST_ENVIRONMENT, postgres_database  # noqa: E402
from tests.servers import running_console  # noqa: E402

PASSWORD = "correct horse battery"
RENDERS = 30
UPDATES = 20


def fill(url: str, count: int) -> None:
    with get_session_factory(url).begin() as session:
        for i in range(count):
            queue.enqueue(
                session=session,
                request=queue.HandoffRequest(
                    f"bench-{uuid.uuid4().hex}", "socketio", "fr", "asked_for_human",
                    ("urgent", "high", "normal")[i % 3], f"question numéro {i}",
                ),
            )  # fmt: skip


def sign_in(console: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{console}/login", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = browser.post(
        f"{console}/login",
        data={"name": "bench", "password": PASSWORD, "csrf": token, "next": "/"},
        timeout=30,
    )
    response.raise_for_status()
    return browser


def milliseconds(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms, p95 {p95 * 1000:7.1f} ms"
    )


def render_times(browser: requests.Session, console: str) -> list[float]:
    times = []
    for _ in range(RENDERS):
        started = time.perf_counter()
        response = browser.get(
            f"{console}/", headers={"accept": "text/html"}, timeout=60
        )
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times


def update_delays(browser: requests.Session, console: str, url: str) -> list[float]:
    """Commits a ticket, times until the open stream's next event carries it."""
    delays: list[float] = []
    seen: dict[str, float] = {}
    ready = threading.Event()

    def listen() -> None:
        with browser.get(f"{console}/queue/events", stream=True, timeout=600) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    ready.set()
                    now = time.perf_counter()
                    for marker in re.findall(r"live-(\w+)", line):
                        seen.setdefault(marker, now)
                    if len(seen) >= UPDATES:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(60)
    for _ in range(UPDATES):
        marker = uuid.uuid4().hex[:12]
        started = time.perf_counter()
        with get_session_factory(url).begin() as session:
            queue.enqueue(session=session, request=queue.HandoffRequest(
                f"bench-{marker}", "socketio", "fr", "asked_for_human", "urgent",
                f"live-{marker}"))  # fmt: skip
        deadline = time.monotonic() + 30
        while marker not in seen and time.monotonic() < deadline:
            time.sleep(0.002)
        delays.append(seen.get(marker, float("inf")) - started)
        time.sleep(0.3)
    return delays


def measure(label: str, url: str, work: Path) -> None:
    upgrade(url)
    with get_session_factory(url).begin() as session:
        accounts.add_agent(
            session=session, name="bench", role="agent", password=PASSWORD
        )
    env = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "DATABASE_URL": url,
        "RELAIS_EVENTS_URL": f"sqlite:///{work / 'tracker.db'}",
        "RELAIS_SPOOL_DIR": str(work / "spool"),
    }
    with running_console(work, env) as console:
        browser = sign_in(console)
        fill(url, 10)
        baseline = render_times(browser, console)
        fill(url, 990)
        full = render_times(browser, console)
        delays = update_delays(browser, console, url)
    print(f"{label}:")
    print(f"  queue page, 10 tickets (baseline)   {milliseconds(baseline)}")
    print(f"  queue page, 1,000 tickets           {milliseconds(full)}")
    print(f"  committed ticket -> open console    {milliseconds(delays)}")


def main() -> int:
    with tempfile.TemporaryDirectory() as work:
        measure("SQLite", f"sqlite:///{Path(work) / 'relais.db'}", Path(work))
    with tempfile.TemporaryDirectory() as work, postgres_database() as url:
        measure("PostgreSQL", url, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
