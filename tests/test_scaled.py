"""End to end on `make run-scaled`'s deployment, through nginx.

Two Rasa processes and two action servers behind Debian's nginx, the console,
conversations in PostgreSQL, locks in Redis, events through RabbitMQ to the
console's watcher, socket.io messages through Redis: every part as
`make run-scaled` runs it (tests/servers.py), on this run's own databases and
queue. The model loads twice, side by side, once for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from bot.console import accounts
from bot.db import get_session_factory
from bot.faq import load_pack
from bot.faq.live import RECHECK_SECONDS
from bot.handoff import queue
from bot.handoff.models import Ticket
from bot.profile import load_profile
from bot.settings import PROJECT_ROOT
from tests.conftest import FIXTURES, POSTGRES_ADMIN_URL, TEST_ENVIRONMENT
from tests.servers import Scaled, ServerError, running_scaled
from tests.test_editing import PASSWORD, csrf_of, form_of

pytestmark = pytest.mark.e2e

TOKEN = "scaled-token"
PACK_DIR = PROJECT_ROOT / "packs" / "dairy-recall"
PACK = load_pack(PACK_DIR / "faq")
PROFILE = load_profile(PACK_DIR)
# Generous: a slow machine waits longer, it never fails for it.
WAIT_SECONDS = 120


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scaled]:
    work = tmp_path_factory.mktemp("scaled")
    # A copy of the pack, so a test can edit an answer as an editor would;
    # action server B has its own, as it would on another machine.
    shutil.copytree(PACK_DIR, work / "pack")
    shutil.copytree(PACK_DIR, work / "pack-b")
    env = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false",
        "RELAIS_SPOOL_DIR": str(work / "spool"),
        "RELAIS_PACK": str(work / "pack"),
        # Not a test of overload: a slow machine's answers are awaited, not
        # replaced by a holding reply.
        "RELAIS_HOLDING_REPLY_SECONDS": "60",
    }
    try:
        with running_scaled(
            work, env, TOKEN, POSTGRES_ADMIN_URL, pack_b=work / "pack-b"
        ) as deployment:
            yield deployment
    except ServerError as error:
        pytest.fail(str(error))


def answer(topic: str, language: str) -> str:
    return PACK[topic].answers[language].strip()


def say(url: str, sender: str, text: str) -> list[str]:
    response = requests.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=WAIT_SECONDS,
    )
    assert response.status_code == 200, response.text
    return [message.get("text", "") for message in response.json()]


def relais(scaled: Scaled, rasa_url: str, *args: str) -> None:
    """The `relais` command line, talking to the Rasa API at `rasa_url`."""
    command = [str(Path(sys.executable).parent / "relais"), *args]
    if args[0] == "queue":
        command += ["--agent", "alice"]
    done = subprocess.run(
        command,
        env={**scaled.env, "RASA_URL": rasa_url},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert done.returncode == 0, done.stderr


def open_ticket(scaled: Scaled, conversation_id: str) -> Ticket | None:
    factory = get_session_factory(scaled.env["DATABASE_URL"])
    with factory.begin() as session:
        return queue.open_ticket_for(session=session, conversation_id=conversation_id)


def tracker_events(scaled: Scaled, conversation_id: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{scaled.api}/conversations/{conversation_id}/tracker",
        params={"token": TOKEN},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


class WebChat:
    """One person in the web chat: socket.io through nginx, long-polling (the
    transport that needs nginx's stickiness), as chat.js connects."""

    def __init__(self, public: str) -> None:
        sticky = f"scaled-{uuid.uuid4().hex[:10]}"
        self.received: list[dict[str, Any]] = []
        self.passes: list[str] = []
        self._lock = threading.Condition()
        self.client = socketio.Client()
        self.client.on("bot_uttered", self._on_bot)
        self.client.on("session_confirm", self._on_pass)
        self.client.connect(
            f"{public}?relais_session={sticky}",
            transports=["polling"],
            wait_timeout=60,
        )
        # Relais names the conversation and hands the chat its pass.
        self.client.emit("session_request", {"session_id": None})
        with self._lock:
            assert self._lock.wait_for(lambda: self.passes, timeout=WAIT_SECONDS)
        self.web_pass = self.passes[0]
        self.session_id = self.web_pass.rpartition(".")[0]

    def _on_bot(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(message)
            self._lock.notify_all()

    def _on_pass(self, web_pass: str) -> None:
        with self._lock:
            self.passes.append(web_pass)
            self._lock.notify_all()

    def say(self, text: str) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": self.web_pass})

    def wait_for_text(self, start: str, after: int = 0) -> int:
        """Waits for a message starting with `start` among those received
        from index `after` on; returns the index after it."""

        def found() -> int | None:
            for index, message in enumerate(self.received[after:], after):
                if str(message.get("text") or "").startswith(start):
                    return index + 1
            return None

        with self._lock:
            index = self._lock.wait_for(found, timeout=WAIT_SECONDS)
        assert index, f"{start!r} did not arrive over socket.io: {self.received}"
        return int(index)

    def close(self) -> None:
        self.client.disconnect()


def test_an_faq_question_is_answered_through_nginx(scaled: Scaled) -> None:
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    assert say(scaled.public, sender, "Quels lots sont concernés par le rappel ?") == [
        answer("lot_numbers", "fr")
    ]
    assert say(scaled.public, sender, "Which lots are affected by the recall?") == [
        answer("lot_numbers", "en")
    ]


def test_nginx_refuses_a_huge_body_before_rasa_sees_it(scaled: Scaled) -> None:
    sender = f"paste-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{scaled.public}/webhooks/rest/webhook",
        json={"sender": sender, "message": "x" * 100_000},
        timeout=WAIT_SECONDS,
    )
    assert response.status_code == 413
    # Rasa never heard of this conversation.
    events = tracker_events(scaled, sender)
    assert not [event for event in events if event["event"] == "user"]


def test_the_http_api_is_not_public(scaled: Scaled) -> None:
    response = requests.get(
        f"{scaled.public}/conversations/anyone/tracker",
        params={"token": TOKEN},
        timeout=30,
    )
    # The console answers the public address: Rasa's API is not there.
    assert response.status_code == 404


def test_handoff_over_the_web_chat_with_replies_from_either_process(
    scaled: Scaled,
) -> None:
    chat = WebChat(scaled.public)
    try:
        chat.say("je veux parler à un humain")
        seen = chat.wait_for_text("Je transmets notre conversation")
        ticket = open_ticket(scaled, chat.session_id)
        assert ticket is not None and ticket.channel == "socketio"
        assert ticket.priority == "normal"

        # While waiting, the person says something urgent: the Rasa process
        # publishes it to RabbitMQ, the console's watcher raises the ticket
        # and sends the emergency guidance into the chat.
        chat.say("mon fils vomit depuis ce matin après avoir mangé le yaourt")
        guidance = PROFILE.emergency("health", "fr")
        seen = chat.wait_for_text(guidance[:40], seen)
        ticket = open_ticket(scaled, chat.session_id)
        assert ticket is not None and ticket.priority == "urgent"
        assert ticket.last_message.startswith("mon fils vomit")

        # The agent's replies arrive live whichever process their API call
        # lands on: one of the two does not hold the socket.
        relais(scaled, scaled.api, "queue", "claim", str(ticket.id))
        for number, rasa_url in enumerate(scaled.rasa, 1):
            relais(scaled, rasa_url, "queue", "reply", str(ticket.id),
                   f"Réponse {number} de l'équipe.")  # fmt: skip
            seen = chat.wait_for_text(f"Réponse {number} de l'équipe.", seen)

        relais(scaled, scaled.api, "queue", "close", str(ticket.id))
        seen = chat.wait_for_text("Notre conseiller a terminé", seen)
        assert open_ticket(scaled, chat.session_id) is None

        # The bot answers again.
        chat.say("Quels lots sont concernés par le rappel ?")
        chat.wait_for_text(answer("lot_numbers", "fr")[:60], seen)
    finally:
        chat.close()


def test_a_conversation_alternating_between_processes_stays_in_order(
    scaled: Scaled,
) -> None:
    sender = f"alternating-{uuid.uuid4().hex[:8]}"
    questions = [
        "Quels lots sont concernés par le rappel ?",
        "Which lots are affected by the recall?",
        "comment me faire rembourser",
        "how do I get a refund",
    ]
    sent = []
    # One after the other, each message on the other process.
    for number in range(12):
        text = f"{questions[number % len(questions)]} ({number})"
        assert say(scaled.rasa[number % 2], sender, text), text
        sent.append(text)
    # Then two at a time, one on each process: the Redis lock store makes
    # them take turns.
    concurrent = [f"{questions[n % len(questions)]} [{n}]" for n in range(12)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(
            pool.map(
                lambda pair: say(scaled.rasa[pair[0] % 2], sender, pair[1]),
                enumerate(concurrent),
            )
        )
    assert all(replies), replies

    events = tracker_events(scaled, sender)
    said = [event["text"] for event in events if event["event"] == "user"]
    assert said[:12] == sent
    assert sorted(said[12:]) == sorted(concurrent)
    # Each message was answered before the next one was read: between two
    # user messages there is the bot's answer and a return to listening.
    turns: list[list[str]] = []
    for event in events:
        if event["event"] == "user":
            turns.append([])
        elif turns:
            turns[-1].append(event["event"])
    assert len(turns) == 24
    for turn in turns:
        assert "bot" in turn and turn[-1] == "action", turns


def signed_in_editor(scaled: Scaled, name: str) -> tuple[requests.Session, str]:
    """An editor in the console, through nginx; returns the session and its token."""
    with get_session_factory(scaled.env["DATABASE_URL"]).begin() as session:
        if accounts.find_agent(session=session, name=name) is None:
            accounts.add_agent(
                session=session, name=name, role="editor", password=PASSWORD
            )
    browser = requests.Session()
    login = browser.get(f"{scaled.public}/login", timeout=WAIT_SECONDS).text
    browser.post(
        f"{scaled.public}/login",
        data={"name": name, "password": PASSWORD, "csrf": csrf_of(login), "next": "/"},
        timeout=WAIT_SECONDS,
    )
    page = browser.get(f"{scaled.public}/topics", timeout=WAIT_SECONDS)
    assert page.status_code == 200, page.text
    return browser, csrf_of(page.text)


def save_answer(scaled: Scaled, topic: str, old: str, new: str) -> None:
    """An editor replaces `old` by `new` in a French answer, in the console."""
    browser, token = signed_in_editor(scaled, "eve")
    page = browser.get(f"{scaled.public}/topics/{topic}", timeout=WAIT_SECONDS).text
    form = {**form_of(page), "csrf": token}
    assert old in form["answer_fr"]
    form["answer_fr"] = form["answer_fr"].replace(old, new, 1)
    saved = browser.post(f"{scaled.public}/topics/{topic}", data=form,
                         timeout=WAIT_SECONDS, allow_redirects=False)  # fmt: skip
    assert saved.status_code == 303, saved.text


def test_the_statement_a_switch_and_an_edited_answer_reach_every_process(
    scaled: Scaled, tmp_path: Path
) -> None:
    statement = "Communiqué de test : la situation est sous contrôle."
    relais(scaled, scaled.api, "statement", "set", "--fr", statement,
           "--en", "Test statement: the situation is under control.")  # fmt: skip
    edited = "Mise à jour de 15 h : le rappel couvre désormais trois lots."
    first_line = answer("timeline", "fr").splitlines()[0]
    save_answer(scaled, "timeline", first_line, edited)
    try:
        for attempt in range(4):  # both Rasa processes, both action servers
            rasa_url = scaled.rasa[attempt % 2]
            sender = f"consistent-{uuid.uuid4().hex[:8]}"
            texts = say(rasa_url, sender, "résumé de la situation svp")
            assert any(statement in text for text in texts), texts
            texts = say(rasa_url, sender, "quand le rappel a t il commencé")
            assert len(texts) == 1 and texts[0].startswith(edited), texts
        # An editor sends everyone to a human: every process does at once.
        relais(scaled, scaled.api, "switch", "all-to-humans", "on")
        for rasa_url in scaled.rasa:
            texts = say(
                rasa_url,
                f"switch-{uuid.uuid4().hex[:8]}",
                "comment me faire rembourser",
            )
            assert any(
                t.startswith("Je transmets notre conversation") for t in texts
            ), texts
    finally:
        save_answer(scaled, "timeline", edited, first_line)
        relais(scaled, scaled.api, "statement", "clear")
        relais(scaled, scaled.api, "switch", "all-to-humans", "off")


def action_call(
    actions_url: str, action: str, sender: str, secret: str | None
) -> requests.Response:
    """Calls one action server directly, as Rasa does when `secret` is
    RELAIS_ACTIONS_SECRET."""
    tracker = json.loads((FIXTURES / "faq_question_fr.json").read_text("utf-8"))
    return requests.post(
        f"{actions_url}/webhook",
        headers={"Authorization": f"Bearer {secret}"} if secret else {},
        json={
            "next_action": action,
            "sender_id": sender,
            "tracker": {**tracker, "sender_id": sender},
            "domain": {},
            "version": "3.6.21",
        },
        timeout=WAIT_SECONDS,
    )


def action_answer(actions_url: str, sender: str) -> str:
    """What one action server answers, asked directly as Rasa asks it."""
    secret = TEST_ENVIRONMENT["RELAIS_ACTIONS_SECRET"]
    response = action_call(actions_url, "action_answer_faq", sender, secret)
    assert response.status_code == 200, response.text
    return str(response.json()["responses"][0]["text"])


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses something listens on at `port` (/proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


def test_the_action_servers_answer_rasa_only(scaled: Scaled) -> None:
    """Issue 26: whoever reached an action server could run action_handoff
    with a forged conversation. They listen on loopback, and a call without
    the secret is refused before the conversation is read."""
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    for url in scaled.actions:
        assert listening_addresses(int(url.rsplit(":", 1)[1])) == {"127.0.0.1"}
        for secret in (None, "guess", TEST_ENVIRONMENT["RELAIS_ACTIONS_SECRET"] + "x"):
            refused = action_call(url, "action_handoff", sender, secret)
            assert refused.status_code == 401, refused.text
        listed = requests.get(f"{url}/actions", timeout=WAIT_SECONDS)
        assert listed.status_code == 401
        assert requests.get(f"{url}/health", timeout=WAIT_SECONDS).status_code == 200
    assert open_ticket(scaled, sender) is None


def test_a_saved_answer_reaches_every_action_server_without_shared_files(
    scaled: Scaled,
) -> None:
    """Action server B runs on its own copy of the pack, as on another machine.
    The saved answer reaches it through the database: each action server looks
    for a new approved version at most every RECHECK_SECONDS, so any answer
    sent that long after the save is the new one (on any machine's speed)."""
    old = answer("lot_numbers", "fr")
    assert [action_answer(url, "before") for url in scaled.actions] == [old, old]
    new = old.replace("L26318", "L26327", 1)
    assert new != old
    save_answer(scaled, "lot_numbers", "L26318", "L26327")
    try:
        time.sleep(RECHECK_SECONDS)
        for url in scaled.actions:
            assert action_answer(url, f"after-{uuid.uuid4().hex[:6]}") == new, url
        # B's own files never changed: the answer came through the database.
        own = load_pack.__wrapped__(
            Path(scaled.env["RELAIS_PACK"]).parent / "pack-b" / "faq"
        )
        assert own["lot_numbers"].answers["fr"] == old
    finally:
        save_answer(scaled, "lot_numbers", "L26327", "L26318")
