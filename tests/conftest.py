"""Shared fixtures: settings from a clean environment, trackers from JSON."""

from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from argon2 import PasswordHasher
from rasa_sdk import Tracker
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.db import get_engine, upgrade
from bot.settings import PROJECT_ROOT, get_settings

FIXTURES = Path(__file__).parent / "fixtures"

TEST_ENVIRONMENT = {
    "RELAIS_ENV": "local",
    "RASA_TOKEN": "test-token",
    "RASA_URL": "http://127.0.0.1:5005",
    "RELAIS_PACK": str(PROJECT_ROOT / "packs" / "dairy-recall"),
    # The team is always in unless a test says otherwise: no test depends on
    # the hour it runs at.
    "RELAIS_TEAM_HOURS": "00:00-24:00",
    "RELAIS_TEAM_DAYS": "mon-sun",
    "RELAIS_TIMEZONE": "Europe/Paris",
    "RELAIS_CONSOLE_SECRET": "test-console-secret",
    "RELAIS_ACTIONS_SECRET": "test-actions-secret",
    # The console in English for the tests that read its pages; the French
    # console (the default) has tests of its own (tests/test_console_language.py).
    "RELAIS_CONSOLE_LANGUAGE": "en",
}


TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# The modules that take minutes, longest first (make test ends with the
# slowest tests; docs/benchmarks.md has each module's time). pytest-xdist
# hands whole modules to the two workers in collection order, so these start
# first and the many short modules fill in at the end: neither worker is left
# with a long module when the other has finished.
LONGEST_FIRST = (
    "test_publish.py",
    "test_browser.py",
    "test_topics.py",
    "test_e2e.py",
    "test_scaled.py",
    "test_gaps.py",
    "test_report.py",
    "test_shipped_packs.py",
    "test_brand_channels.py",
    "test_editing.py",
    "test_overview.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return (
            LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
        )

    items.sort(key=rank)  # stable: tests keep their order within a module


@pytest.fixture(autouse=True)
def relais_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Every test sees the same known configuration, never the developer's .env.

    The queue database and the spool are the test's own (an unmigrated SQLite
    file unless the test uses `database_url`).
    """
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'unmigrated.db'}")
    monkeypatch.setenv("RELAIS_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setattr("bot.settings.load_dotenv", lambda *args, **kwargs: False)
    # Accounts made inside the tests are hashed with Argon2id at its lowest
    # cost: hundreds of them, each 0.1 s at the real cost. The servers the
    # end-to-end tests start keep the real cost (and rehash at sign-in).
    monkeypatch.setattr("bot.console.accounts._hasher", TEST_HASHER)
    get_settings.cache_clear()
    yield TEST_ENVIRONMENT
    get_settings.cache_clear()


def load_tracker(name: str, **changes: Any) -> Tracker:
    """A rasa_sdk Tracker from tests/fixtures/<name>.json.

    Keyword arguments replace top-level keys; `slots` and `latest_message`
    are merged into the fixture's.
    """
    state = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if key in ("slots", "latest_message"):
            state[key] = {**state[key], **copy.deepcopy(value)}
        else:
            state[key] = value
    return Tracker.from_dict(state)


# The machine's PostgreSQL server (DEVELOPERS.md): tests of the PostgreSQL path
# run against it and fail, never skip, when it is not there.
POSTGRES_ADMIN_URL = os.environ.get(
    "RELAIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"relais_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} "
            f"(set RELAIS_TEST_POSTGRES_URL): {error}"
        )
    url = (
        make_url(POSTGRES_ADMIN_URL)
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated queue database: SQLite, then the PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'relais.db'}"
        upgrade(url)
        yield url
        get_engine(url).dispose()
    else:
        with postgres_database() as url:
            upgrade(url)
            yield url


class Webhook(BaseHTTPRequestHandler):
    """A stand-in for a Slack incoming webhook: records what it is sent."""

    received: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append(json.loads(body))
        self.send_response(Webhook.status)
        self.end_headers()
        self.wfile.write(b"ok" if Webhook.status == 200 else b"no_service")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Webhook.received, Webhook.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/secret"
    server.shutdown()
