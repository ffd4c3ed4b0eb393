"""Closing an account (someone leaves, a password leaks): from the console's
team page and from `relais agent`, sessions end at once, the conversations
the account held go back to the queue, and it cannot sign in again until an
admin opens it. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest
from starlette.testclient import TestClient

from bot.cli import main
from bot.console import accounts
from bot.console.app import create_app
from bot.db import get_session_factory
from bot.handoff import queue
from bot.settings import get_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def team(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    with get_session_factory(database_url).begin() as session:
        for name, role in (("alice", "agent"), ("eve", "editor"), ("root", "admin")):
            accounts.add_agent(session=session, name=name, role=role, password=PASSWORD)
        for number in range(3):
            queue.enqueue(
                session=session,
                request=queue.HandoffRequest(
                    f"visitor-{number}",
                    "socketio",
                    "fr",
                    "asked_for_human",
                    "normal",
                    f"message {number}",
                    [],
                ),
            )
        queue.claim(session=session, ticket_id=1, agent="alice")
        queue.claim(session=session, ticket_id=2, agent="alice")
    return database_url


def browser(name: str) -> TestClient:
    client = TestClient(create_app(get_settings()), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf": token.group(1), "next": "/"},
    )
    assert response.status_code == 303, response.text
    return client


def csrf(client: TestClient, path: str = "/team") -> str:
    page = client.get(path, headers={"accept": "text/html"}).text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page[:300]
    return match.group(1)


def signed_in(client: TestClient) -> bool:
    return client.get("/", headers={"accept": "text/html"}).status_code == 200


def test_an_admin_closes_an_account_from_the_console(team: str) -> None:
    alice, admin = browser("alice"), browser("root")
    assert signed_in(alice)
    page = admin.get("/team", headers={"accept": "text/html"}).text
    assert 'id="account-alice"' in page and "<td>2</td>" in page  # holds two

    response = admin.post("/team/alice/disable", data={"csrf": csrf(admin)})
    assert response.status_code == 303
    flashed = admin.get("/team", headers={"accept": "text/html"}).text
    assert "2 conversations back in the queue" in flashed
    assert "disabled by root" in flashed

    # Her open session ended at once: the next page is the sign-in page.
    page = alice.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert alice.post("/tickets/3/claim", data={"csrf": "x"}).status_code in (401, 403)
    # Her conversations wait for someone else, in their place.
    with get_session_factory(team).begin() as session:
        waiting = queue.list_open(session=session)
        assert [(t.id, t.status, t.agent) for t in waiting] == [
            (1, "waiting", None),
            (2, "waiting", None),
            (3, "waiting", None),
        ]
    # She cannot sign in again, and is told why.
    client = TestClient(create_app(get_settings()), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    refused = client.post(
        "/login",
        data={
            "name": "alice",
            "password": PASSWORD,
            "csrf": token.group(1),
            "next": "/",
        },
    )
    assert refused.status_code == 401 and "This account is disabled" in refused.text

    admin.post("/team/alice/enable", data={"csrf": csrf(admin)})
    assert signed_in(browser("alice"))


def test_a_live_queue_stream_ends_when_the_account_is_closed(team: str) -> None:
    alice = browser("alice")  # a console with no limit on its live streams
    ended = threading.Event()

    def listen() -> None:
        with alice.stream("GET", "/queue/events") as response:
            for _ in response.iter_lines():
                pass
        ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1.5)
    assert not ended.is_set()  # live while she is signed in
    with get_session_factory(team).begin() as session:
        accounts.disable(session=session, name="alice", by="root")
    assert ended.wait(30), "the stream went on after the account was closed"


def test_only_admins_close_accounts_and_never_their_own(team: str) -> None:
    for name in ("alice", "eve"):
        client = browser(name)
        assert client.get("/team", headers={"accept": "text/html"}).status_code == 403
        assert client.post("/team/alice/disable", data={"csrf": "x"}).status_code == 403
    admin = browser("root")
    assert admin.post("/team/alice/disable", data={"csrf": "forged"}).status_code == 403
    admin.post("/team/root/disable", data={"csrf": csrf(admin)})
    assert (
        "cannot disable your own account"
        in admin.get("/team", headers={"accept": "text/html"}).text
    )
    assert (
        admin.post("/team/nobody/disable", data={"csrf": csrf(admin)}).status_code
        == 303
    )
    assert (
        "no account named nobody"
        in admin.get("/team", headers={"accept": "text/html"}).text
    )


def test_the_command_line_closes_and_opens_accounts(
    team: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = browser("alice")
    assert main(["agent", "disable", "alice", "--agent", "root"]) == 0
    assert "2 conversation(s) it held are back in the queue" in capsys.readouterr().out
    assert not signed_in(alice)
    assert main(["agent", "list"]) == 0
    assert re.search(r"alice\s+agent\s+.*DISABLED by root", capsys.readouterr().out)
    assert main(["agent", "enable", "alice"]) == 0
    assert signed_in(browser("alice"))
    assert main(["agent", "disable", "ghost", "--agent", "root"]) == 1
    assert "no account named ghost" in capsys.readouterr().err


def test_a_new_password_ends_the_open_sessions(
    team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = browser("alice")
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert main(["agent", "passwd", "alice", "--password-stdin"]) == 0
    assert not signed_in(alice)
