"""End to end: the real Rasa server and action server, talked to over REST.

Needs the trained model (`make train`); `make test` builds it first. The two
servers start once for the whole module, on free ports, with a throw-away
SQLite tracker store.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.faq import load_pack
from bot.settings import PROJECT_ROOT
from tests.conftest import TEST_ENVIRONMENT

pytestmark = pytest.mark.e2e

MODEL = PROJECT_ROOT / "models" / "relais.tar.gz"
TOKEN = "e2e-token"
# Waiting for the servers to come up is not a performance assertion: a slow
# machine only makes the wait longer.
STARTUP_SECONDS = 600
PACK = load_pack(PROJECT_ROOT / "data" / "faq")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not come up:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it).")
    work = tmp_path_factory.mktemp("e2e")
    rasa_port, action_port = free_port(), free_port()
    (work / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {work / 'tracker.db'}\n"
    )
    env = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false",
    }
    rasa = str(Path(sys.executable).parent / "rasa")
    action_log, rasa_log = work / "actions.log", work / "rasa.log"
    actions = subprocess.Popen(
        [rasa, "run", "actions", "--port", str(action_port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=action_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = subprocess.Popen(
        [
            rasa, "run",
            "--model", str(MODEL),
            "--enable-api", "--auth-token", TOKEN,
            "--interface", "127.0.0.1", "--port", str(rasa_port),
            "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            "--endpoints", str(work / "endpoints.yml"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=rasa_log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{action_port}/health", actions, action_log)
        url = f"http://127.0.0.1:{rasa_port}"
        wait_until_up(f"{url}/status?token={TOKEN}", server, rasa_log)
        yield url
    finally:
        for process in (server, actions):
            process.terminate()
        for process in (server, actions):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


class Visitor:
    """One person on the REST channel."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sender = f"visitor-{uuid.uuid4().hex[:8]}"

    def say(self, text: str) -> list[dict[str, Any]]:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        return list(response.json())

    def texts(self, text: str) -> list[str]:
        return [message.get("text", "") for message in self.say(text)]


def answer(topic: str, language: str) -> str:
    return PACK[topic].answers[language].strip()


def test_french_question_gets_the_french_answer(rasa_url: str) -> None:
    replies = Visitor(rasa_url).texts("Quels lots sont concernés par le rappel ?")
    assert replies == [answer("lot_numbers", "fr")]


def test_the_same_question_in_english_gets_the_english_answer(rasa_url: str) -> None:
    replies = Visitor(rasa_url).texts("Which lots are affected by the recall?")
    assert replies == [answer("lot_numbers", "en")]


def test_the_answer_follows_the_language_of_each_message(rasa_url: str) -> None:
    visitor = Visitor(rasa_url)
    assert visitor.texts("comment me faire rembourser ?") == [answer("refund", "fr")]
    assert visitor.texts("how do I get a refund?") == [answer("refund", "en")]
    # Too short to tell: the conversation keeps its language.
    assert visitor.texts("ok") != []


def test_vague_question_offers_buttons_that_answer(rasa_url: str) -> None:
    visitor = Visitor(rasa_url)
    replies = visitor.say("c'est dangereux ?")
    assert len(replies) == 1
    assert "pas sûr d'avoir bien compris" in replies[0]["text"]
    buttons = replies[0]["buttons"]
    assert 3 <= len(buttons) <= 4
    assert buttons[-1]["payload"] == "/request_human"
    titles = {topic.title("fr"): key for key, topic in PACK.items()}
    first = buttons[0]
    assert first["title"] in titles
    assert visitor.texts(first["payload"]) == [answer(titles[first["title"]], "fr")]


def test_second_miss_in_a_row_offers_a_human(rasa_url: str) -> None:
    visitor = Visitor(rasa_url)
    first = visitor.say("c'est dangereux ?")
    assert "buttons" in first[0]
    second = visitor.texts("bof")
    assert len(second) == 1
    assert TEST_ENVIRONMENT["RELAIS_CONTACT_PHONE"] in second[0]
    assert TEST_ENVIRONMENT["RELAIS_CONTACT_EMAIL"] in second[0]
    assert "Pour parler à une personne" in second[0]


def test_asking_for_a_human_in_english(rasa_url: str) -> None:
    replies = Visitor(rasa_url).texts("I want to talk to a real person")
    assert len(replies) == 1
    assert replies[0].startswith("To talk to a person from our team")
    assert TEST_ENVIRONMENT["RELAIS_CONTACT_PHONE"] in replies[0]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "Je n'ai pas compris votre message"),
        ("😀😀😀", "Je n'ai pas compris votre message"),
        ("x" * 10_000, "Votre message est long"),
        (
            "Je suis très en colère contre votre entreprise. " * 300,
            "Votre message est long",
        ),
        ("Welche Chargen sind vom Rückruf betroffen?", "Sorry, I can only answer"),
        ("هل هذا المنتج خطير على الأطفال؟", "Sorry, I can only answer"),
    ],
    ids=["empty", "emoji", "10000-chars", "long-letter", "german", "arabic"],
)
def test_bad_input_gets_a_calm_reply(
    rasa_url: str, message: str, expected: str
) -> None:
    replies = Visitor(rasa_url).texts(message)
    assert len(replies) == 1
    assert expected in replies[0]
    assert "Traceback" not in replies[0]


def test_html_is_never_echoed_back(rasa_url: str) -> None:
    replies = Visitor(rasa_url).say(
        "<script>alert('x')</script><img src=x onerror=alert(1)>"
    )
    assert replies, "no reply"
    for message in replies:
        assert "<script" not in message.get("text", "")
        assert "onerror" not in message.get("text", "")


def test_basics_in_both_languages(rasa_url: str) -> None:
    visitor = Visitor(rasa_url)
    assert visitor.texts("bonjour")[0].startswith("Bonjour, je suis l'assistant")
    assert visitor.texts("are you a bot?")[0].startswith("I'm an automated assistant")
    assert visitor.texts("vous êtes des menteurs")[0].startswith(
        "Je comprends votre colère"
    )


def test_the_http_api_needs_the_token(rasa_url: str) -> None:
    visitor = Visitor(rasa_url)
    visitor.say("bonjour")
    tracker = f"{rasa_url}/conversations/{visitor.sender}/tracker"
    assert requests.get(tracker, timeout=30).status_code == 401
    assert requests.get(f"{tracker}?token=wrong", timeout=30).status_code == 401
    response = requests.get(f"{tracker}?token={TOKEN}", timeout=30)
    assert response.status_code == 200
    assert response.json()["slots"]["language"] == "fr"
