"""`relais queue ...`: what an agent sees when things go right and wrong.

Rasa is not running here (RASA_URL points at a closed port): the commands that
need it must say so and change nothing. The full path with a real Rasa server
is in tests/test_e2e.py.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.db import get_session_factory
from bot.handoff import queue
from bot.handoff.models import ASSIGNED
from bot.settings import get_settings
from tests.servers import MODEL, free_port


def closed_port() -> int:
    return free_port()  # nothing listens there, and no other test will


@pytest.fixture
def queue_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{closed_port()}")
    get_settings.cache_clear()
    return database_url


def waiting_ticket(url: str, conversation: str = "c1") -> int:
    with get_session_factory(url).begin() as session:
        request = queue.HandoffRequest(
            conversation, "rest", "fr", "health", "urgent", "je vomis",
            [{"role": "user", "text": "je vomis"}],
        )  # fmt: skip
        return queue.enqueue(session=session, request=request).id


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_claim_release(queue_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "queue", "list")[1].strip() == "The queue is empty."
    ticket_id = waiting_ticket(queue_url)
    code, out, _ = run(capsys, "queue", "list")
    assert code == 0
    assert f"{ticket_id:>5}  urgent    waiting" in out and "je vomis" in out
    code, out, _ = run(capsys, "queue", "claim", "--next", "--agent", "alice")
    assert code == 0 and f"Ticket {ticket_id} [urgent] assigned to alice" in out
    code, _, err = run(capsys, "queue", "release", str(ticket_id), "--agent", "bob")
    assert code == 1 and "held by alice" in err
    code, out, _ = run(capsys, "queue", "release", str(ticket_id), "--agent", "alice")
    assert code == 0 and "back in the queue (place 1)" in out


def test_refusals_are_one_line_not_a_trace(
    queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "queue", "claim", "42")
    assert (code, err.strip()) == (1, "There is no ticket 42.")
    assert run(capsys, "queue", "claim", "--next")[1].strip() == "Nobody is waiting."
    ticket_id = waiting_ticket(queue_url)
    code, _, err = run(capsys, "queue", "reply", str(ticket_id), "bonjour")
    assert (code, err.strip()) == (1, f"Ticket {ticket_id} is waiting: claim it first.")
    code, _, err = run(capsys, "queue", "note", str(ticket_id), "   ")
    assert (code, err.strip()) == (1, "A note cannot be empty.")


def test_rasa_down_changes_nothing(
    queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ticket_id = waiting_ticket(queue_url)
    assert run(capsys, "queue", "claim", str(ticket_id), "--agent", "alice")[0] == 0
    for command in (["reply", str(ticket_id), "bonjour"], ["close", str(ticket_id)]):
        code, _, err = run(capsys, "queue", *command, "--agent", "alice")
        assert code == 1
        assert err.startswith(
            "Nothing changed: Rasa is not reachable at http://127.0.0.1:"
        )
        assert "Traceback" not in err
    with get_session_factory(queue_url).begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=ticket_id)
        assert (ticket.status, ticket.agent) == (ASSIGNED, "alice")  # not closed
    # `show` still gives what the ticket saved.
    code, out, err = run(capsys, "queue", "show", str(ticket_id))
    assert code == 0
    assert "Rasa is not reachable" in err
    assert "je vomis" in out


def test_an_unmigrated_database_says_what_to_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "queue", "list")
    assert code == 1
    assert "run `relais db upgrade`" in err
    assert run(capsys, "db", "upgrade")[0] == 0
    assert run(capsys, "queue", "list")[1].strip() == "The queue is empty."


def test_agent_accounts(
    queue_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, out, _ = run(capsys, "agent", "add", "camille", "--role", "editor",
                       "--password-stdin")  # fmt: skip
    assert (code, out.strip()) == (0, "Account camille (editor) created.")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "agent", "add", "bob", "--password-stdin")
    assert (code, err.strip()) == (1, "A password needs at least 10 characters.")
    monkeypatch.setattr("sys.stdin", io.StringIO("another long one\n"))
    code, _, err = run(capsys, "agent", "add", "Camille", "--password-stdin")
    assert (code, err.strip()) == (1, "There is already an account named camille.")
    assert "camille" in run(capsys, "agent", "list")[1]
    assert "bob" not in run(capsys, "agent", "list")[1]


def test_nothing_to_roll_back_to_changes_nothing(
    queue_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "relais.tar.gz")
    project = ["--project", str(tmp_path)]
    assert run(capsys, "publish", "--list", *project)[1].strip() == (
        "Nothing has been published yet."
    )
    code, _, err = run(capsys, "rollback", *project)
    assert code == 1
    assert err.strip() == "There is no earlier published model to go back to."
    assert run(capsys, "rollback", "--list", *project)[1].strip() == (
        "Nothing has been published yet."
    )
    assert (tmp_path / "models" / "relais.tar.gz").read_bytes() == MODEL.read_bytes()


def test_help_loads_neither_rasa_nor_tensorflow_and_prints_no_warnings() -> None:
    """Issue 28: every command, even --help, took about 7 s and printed dozens
    of TensorFlow and deprecation warnings."""
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('rasa', 'tensorflow', 'spacy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert done.stderr == ""
