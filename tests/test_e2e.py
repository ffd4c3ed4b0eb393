"""End to end: the real Rasa server and action server, over REST and socket.io.

Needs the trained model (`make train`); `make test` builds it first. The two
servers start once for the whole module, on free ports, with a throw-away
SQLite tracker store and handoff queue; agents act through the real `relais`
command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import select

from bot.db import get_session_factory, upgrade
from bot.events.sql import watch_once
from bot.faq import load_pack
from bot.handoff import queue
from bot.handoff.models import Ticket
from bot.handoff.satisfaction import Survey
from bot.insights.models import MessageFact
from bot.nlu import encoder
from bot.settings import PROJECT_ROOT
from tests.conftest import TEST_ENVIRONMENT
from tests.servers import ServerError, running_relais

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token"
PACK = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")


@pytest.fixture(scope="module")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def e2e_env(e2e_dir: Path) -> dict[str, str]:
    """The environment of the servers and of the agents' command line."""
    database_url = f"sqlite:///{e2e_dir / 'relais.db'}"
    upgrade(database_url)
    # A copy of the pack, so a test can edit an answer as an editor would.
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", e2e_dir / "pack")
    return {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": database_url,
        "RELAIS_SPOOL_DIR": str(e2e_dir / "spool"),
        "RELAIS_PACK": str(e2e_dir / "pack"),
    }


@pytest.fixture(scope="module")
def rasa_url(e2e_dir: Path, e2e_env: dict[str, str]) -> Iterator[str]:
    try:
        with running_relais(e2e_dir, e2e_env, TOKEN) as url:
            yield url
    except ServerError as error:
        pytest.fail(str(error))


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
    assert second[0].startswith("Je transmets notre conversation à une personne")
    assert "dans la file" in second[0]


def test_asking_for_a_human_in_english(rasa_url: str) -> None:
    replies = Visitor(rasa_url).texts("I want to talk to a real person")
    assert len(replies) == 1
    assert replies[0].startswith("I'm passing our conversation to a person")
    assert "in the queue" in replies[0]


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


def test_a_long_paste_is_declined_and_never_stored(rasa_url: str) -> None:
    """A huge paste gets the "too long" reply, holds nobody, and the
    conversation keeps only the part the assistant reads."""
    visitor = Visitor(rasa_url)
    paste = "Je suis très en colère contre votre entreprise. " * 1000  # 58 KB of JSON
    replies = visitor.texts(paste)
    assert len(replies) == 1 and "Votre message est long" in replies[0]
    stored = [
        event
        for event in tracker_events(rasa_url, visitor.sender)
        if event["event"] == "user"
    ]
    assert len(stored) == 1
    assert len(stored[0]["text"]) <= 1001
    assert stored[0]["metadata"]["relais_truncated_from"] == len(paste.strip())
    # The same person's next question is answered as usual.
    assert visitor.texts("quels produits sont concernés ?") == [
        answer("affected_products", "fr")
    ]


@pytest.mark.parametrize(
    ("body", "status", "explains"),
    [
        ({"message": "bonjour"}, 400, '"sender"'),
        ({"sender": "", "message": "bonjour"}, 400, '"sender"'),
        ({"sender": "x" * 300, "message": "bonjour"}, 400, "255"),
        ({"sender": "someone"}, 400, '"message"'),
        ({"sender": "someone", "message": 42}, 400, '"message"'),
        (["bonjour"], 400, "JSON object"),
        ({"sender": "someone", "message": "x" * 70_000}, 413, "too long"),
    ],
    ids=["no-sender", "empty-sender", "long-sender", "no-message",
         "number-message", "not-an-object", "over-64-KB"],
)  # fmt: skip
def test_a_request_that_is_not_a_message_is_refused_with_a_reason(
    rasa_url: str, body: Any, status: int, explains: str
) -> None:
    response = requests.post(
        f"{rasa_url}/webhooks/rest/webhook", json=body, timeout=120
    )
    assert response.status_code == status
    assert explains in response.json()["message"]
    assert "Traceback" not in response.text
    # Nothing was recorded in a conversation shared by sender-less clients.
    events = requests.get(
        f"{rasa_url}/conversations/default/tracker",
        params={"token": TOKEN},
        timeout=30,
    ).json()["events"]
    assert not [event for event in events if event["event"] == "user"]


def test_a_request_that_is_not_json_is_refused(rasa_url: str) -> None:
    response = requests.post(
        f"{rasa_url}/webhooks/rest/webhook",
        data="sender=me&message=bonjour",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_rasa_refuses_a_body_over_a_megabyte_before_reading_it(rasa_url: str) -> None:
    """Issue 26: Sanic read up to 100 MB into memory before any channel's own
    limit (64 KB, 1 MB) looked at it; now it stops at 1 MB, on every route."""
    huge = b"x" * (1024 * 1024 + 512 * 1024)
    paths = ("/model/parse", "/webhooks/rest/webhook", "/webhooks/whatsapp/webhook")
    for path in paths:
        response = requests.post(f"{rasa_url}{path}", data=huge, timeout=120)
        assert response.status_code == 413, (path, response.status_code)
    # Under the limit, the route reads it (and wants the API token).
    below = requests.post(f"{rasa_url}/model/parse", data=b"x" * 1000, timeout=120)
    assert below.status_code == 401


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


# --- The handoff, as a person and an agent live it -------------------------


def relais(
    env: dict[str, str], rasa_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Runs the real `relais` command line as agent alice, unless told otherwise."""
    command = [str(Path(sys.executable).parent / "relais"), *args]
    if args[0] == "queue" and "--agent" not in args:
        command += ["--agent", "alice"]
    return subprocess.run(
        command,
        env={**env, "RASA_URL": rasa_url},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def open_ticket(env: dict[str, str], conversation_id: str) -> Ticket:
    with get_session_factory(env["DATABASE_URL"]).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id=conversation_id)
        assert ticket is not None, f"no open ticket for {conversation_id}"
        return ticket


def tracker_events(rasa_url: str, conversation_id: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": TOKEN},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def test_handoff_round_trip_over_rest_and_the_command_line(
    rasa_url: str, e2e_env: dict[str, str]
) -> None:
    visitor = Visitor(rasa_url)
    (queued,) = visitor.texts("je veux parler à quelqu'un")
    assert queued.startswith("Je transmets notre conversation")
    ticket = open_ticket(e2e_env, visitor.sender)
    assert (ticket.status, ticket.reason, ticket.channel) == (
        "waiting", "asked_for_human", "rest",
    )  # fmt: skip

    listed = relais(e2e_env, rasa_url, "queue", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"{ticket.id:>5}  normal" in listed.stdout

    claimed = relais(e2e_env, rasa_url, "queue", "claim", str(ticket.id))
    assert claimed.returncode == 0, claimed.stderr
    refused = relais(
        e2e_env, rasa_url, "queue", "claim", str(ticket.id), "--agent", "bob"
    )
    assert refused.returncode == 1
    assert "held by alice" in refused.stderr

    sent = relais(e2e_env, rasa_url, "queue", "reply", str(ticket.id),
                  "Bonjour, ici Alice de Montval. Que se passe-t-il ?")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    agent_lines = [
        event for event in tracker_events(rasa_url, visitor.sender)
        if event["event"] == "bot" and (event.get("metadata") or {}).get("agent")
    ]  # fmt: skip
    assert [(e["text"], e["metadata"]["agent"]) for e in agent_lines] == [
        ("Bonjour, ici Alice de Montval. Que se passe-t-il ?", "alice")
    ]
    with get_session_factory(e2e_env["DATABASE_URL"]).begin() as session:
        replied = queue.get_ticket(session=session, ticket_id=ticket.id)
        # The overview's "time to a human" starts from here.
        assert replied.first_reply_at is not None
        assert replied.first_reply_at >= replied.created_at

    # While a human has it, the bot stays silent but every message is kept.
    assert visitor.say("Quels lots sont concernés par le rappel ?") == []
    assert visitor.say("merci") == []
    shown = relais(e2e_env, rasa_url, "queue", "show", str(ticket.id))
    assert shown.returncode == 0, shown.stderr
    assert "Quels lots sont concernés par le rappel ?" in shown.stdout
    assert "agent alice" in shown.stdout and "Que se passe-t-il ?" in shown.stdout
    assert "handed to a human" in shown.stdout

    noted = relais(e2e_env, rasa_url, "queue", "note", str(ticket.id), "rappel demandé")
    assert noted.returncode == 0, noted.stderr
    closed = relais(e2e_env, rasa_url, "queue", "close", str(ticket.id))
    assert closed.returncode == 0, closed.stderr
    events = tracker_events(rasa_url, visitor.sender)
    assert events[-4]["event"] == "resume"
    assert events[-3]["text"].startswith("Notre conseiller a terminé l'échange")
    # Once, after the closing message: how did it go, 1 to 5.
    question = events[-2]
    assert question["text"].startswith("Une dernière chose : notre échange vous a-t-il")
    buttons = question["data"]["buttons"]
    assert [b["title"][0] for b in buttons] == ["1", "2", "3", "4", "5"]

    (thanked,) = visitor.texts(buttons[3]["payload"])
    assert thanked.startswith("Merci pour votre avis")
    # The next message that is no question is the comment...
    (kept,) = visitor.texts("Alice a été claire et rapide")
    assert kept.startswith("Merci, votre commentaire est transmis")
    with get_session_factory(e2e_env["DATABASE_URL"]).begin() as session:
        survey = session.execute(
            select(Survey).where(Survey.ticket_id == ticket.id)
        ).scalar_one()
        assert (survey.agent, survey.reason, survey.channel, survey.rating) == (
            "alice", "asked_for_human", "rest", 4,
        )  # fmt: skip
        assert survey.comment == "Alice a été claire et rapide"

    # ... and only that one: the bot is back, the next FAQ question is answered.
    assert visitor.texts("Quels lots sont concernés par le rappel ?") == [
        answer("lot_numbers", "fr")
    ]

    # The console's watcher turns what Rasa recorded into the crisis figures:
    # each message and what became of it.
    database_url = e2e_env["DATABASE_URL"]
    events_url = database_url.replace("relais.db", "tracker.db")
    while watch_once(database_url, events_url)[0]:
        pass
    with get_session_factory(database_url).begin() as session:
        recorded = session.execute(
            select(
                MessageFact.outcome,
                MessageFact.topic,
                MessageFact.language,
                MessageFact.meaning,
            )
            .where(MessageFact.conversation_id == visitor.sender)
            .order_by(MessageFact.id)
        ).all()
    assert [(row.outcome, row.language) for row in recorded] == [
        ("handoff", "fr"),
        ("human", "fr"),
        ("human", "fr"),
        ("small_talk", "fr"),  # the rating
        ("small_talk", "fr"),  # the comment
        ("answered", "fr"),
    ]
    assert recorded[-1].topic == "lot_numbers"
    # What each message means, computed once by the Rasa process that parsed
    # it, is kept with it for the gap groups.
    for row in (recorded[0], recorded[-1]):
        vector = encoder.from_text(row.meaning)
        assert vector is not None and vector.shape == (encoder.dimensions(),)


def test_someone_sick_gets_emergency_guidance_then_an_urgent_ticket(
    rasa_url: str, e2e_env: dict[str, str]
) -> None:
    visitor = Visitor(rasa_url)
    replies = visitor.texts("j'ai mangé le produit et je vomis")
    assert "appelez tout de suite le 15 (SAMU) ou le 112" in replies[0]
    assert replies[-1].startswith("Je transmets notre conversation")
    ticket = open_ticket(e2e_env, visitor.sender)
    assert (ticket.reason, ticket.priority) == ("health", "urgent")
    # Urgent tickets are served first.
    claimed = relais(e2e_env, rasa_url, "queue", "claim", "--next", "--agent", "carol")
    assert claimed.returncode == 0, claimed.stderr
    assert f"Ticket {ticket.id} [urgent]" in claimed.stdout

    # Handed back after a human's answer: nobody who got sick is asked to
    # rate the exchange.
    for command in (
        ("reply", str(ticket.id), "Bonjour, ici Carol. Comment allez-vous ?"),
        ("close", str(ticket.id)),
    ):
        done = relais(e2e_env, rasa_url, "queue", *command, "--agent", "carol")
        assert done.returncode == 0, done.stderr
    events = tracker_events(rasa_url, visitor.sender)
    assert events[-2]["text"].startswith("Notre conseiller a terminé l'échange")
    assert not any(
        "notre échange vous a-t-il aidé" in (e.get("text") or "") for e in events
    )
    # A rating typed anyway finds nothing to rate, and says so.
    (nothing,) = visitor.texts("5/5")
    assert nothing.startswith("Merci ! Il n'y a plus d'échange à noter")


def test_an_ordinary_request_with_shared_words_is_just_answered(rasa_url: str) -> None:
    """ "demande de" once opened a press ticket and silenced the bot (issue 10)."""
    visitor = Visitor(rasa_url)
    assert visitor.texts("Je voudrais faire une demande de remboursement") == [
        answer("refund", "fr")
    ]
    assert visitor.texts("Quels lots sont concernés par le rappel ?") == [
        answer("lot_numbers", "fr")
    ]


def test_an_angry_faq_question_is_answered_flagged_and_the_bot_stays(
    rasa_url: str, e2e_env: dict[str, str]
) -> None:
    visitor = Visitor(rasa_url)
    replies = visitor.texts("C'est honteux !! Comment me faire rembourser ?")
    assert replies[0].startswith("Je comprends votre colère")
    assert "va reprendre notre conversation" not in replies[0]
    assert replies[1] == answer("refund", "fr")
    assert replies[-1].startswith("J'ai aussi transmis votre message à notre équipe")
    ticket = open_ticket(e2e_env, visitor.sender)
    assert (ticket.reason, ticket.priority) == ("anger", "high")
    # The next question is answered: a trigger never leaves someone in silence.
    assert visitor.texts("Quels lots sont concernés par le rappel ?") == [
        answer("lot_numbers", "fr")
    ]
    # Once an agent speaks, the bot steps back until the ticket is closed.
    relais(e2e_env, rasa_url, "queue", "claim", str(ticket.id), "--agent", "dan")
    sent = relais(
        e2e_env, rasa_url, "queue", "reply", str(ticket.id), "Bonjour, ici Dan.",
        "--agent", "dan",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert visitor.say("Quels lots sont concernés par le rappel ?") == []


class WebChat:
    """One person in the web chat, as chat.js talks to Rasa's socket.io: a
    session request (with the pass kept from before, if any), then messages."""

    def __init__(self, url: str, shown_pass: str | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.passes: list[str] = []
        self._lock = threading.Condition()
        self.client = socketio.Client()
        self.client.on("bot_uttered", self._on(self.received))
        self.client.on("session_confirm", self._on(self.passes))
        self.client.connect(url, transports=["polling"], wait_timeout=60)
        self.client.emit("session_request", {"session_id": shown_pass})
        self.web_pass = self._wait(self.passes, lambda _: True, "session_confirm")
        # What agents and the tracker store know the person by.
        self.conversation = self.web_pass.rpartition(".")[0]

    def _on(self, into: list[Any]) -> Any:
        def received(item: Any) -> None:
            with self._lock:
                into.append(item)
                self._lock.notify_all()

        return received

    def _wait(self, items: list[Any], check: Any, what: str) -> Any:
        with self._lock:
            found = self._lock.wait_for(
                lambda: next((m for m in items if check(m)), None), timeout=120
            )
        assert found, f"{what} did not arrive over socket.io: {items}"
        return found

    def say(self, text: str, session_id: str | None = None) -> None:
        self.client.emit(
            "user_uttered",
            {"message": text, "session_id": session_id or self.web_pass},
        )

    def wait_for(self, check: Any, what: str) -> dict[str, Any]:
        return dict(self._wait(self.received, check, what))

    def wait_for_text(self, prefix: str) -> dict[str, Any]:
        return self.wait_for(
            lambda message: str(message.get("text") or "").startswith(prefix),
            repr(prefix),
        )

    def close(self) -> None:
        self.client.disconnect()


def test_agent_reply_arrives_live_over_socketio(
    rasa_url: str, e2e_env: dict[str, str]
) -> None:
    chat = WebChat(rasa_url)
    try:
        chat.say("agent please")
        chat.wait_for_text("I'm passing our conversation")
        ticket = open_ticket(e2e_env, chat.conversation)
        assert ticket.channel == "socketio"
        assert (
            relais(e2e_env, rasa_url, "queue", "claim", str(ticket.id)).returncode == 0
        )
        sent = relais(
            e2e_env, rasa_url, "queue", "reply", str(ticket.id), "Hello, Alice here."
        )
        assert sent.returncode == 0, sent.stderr
        chat.wait_for_text("Hello, Alice here.")
        # Then who wrote it, for the chat to label the message.
        chat.wait_for(lambda m: m.get("relais_agent") == "alice", "the agent's name")
        assert (
            relais(e2e_env, rasa_url, "queue", "close", str(ticket.id)).returncode == 0
        )
        chat.wait_for_text("Our agent has ended the conversation")
    finally:
        chat.close()


def user_texts(rasa_url: str, conversation_id: str) -> list[str]:
    events = tracker_events(rasa_url, conversation_id)
    return [event["text"] for event in events if event["event"] == "user"]


def test_nobody_writes_or_listens_as_someone_else(
    rasa_url: str, e2e_env: dict[str, str]
) -> None:
    """Issue 26: a visitor who names another person's conversation (a
    WhatsApp number, another web chat's id, a forged pass) gets a
    conversation of their own; REST cannot take another channel's ids."""
    person = WebChat(rasa_url)
    try:
        person.say("je veux parler à quelqu'un")
        person.wait_for_text("Je transmets notre conversation")
        assert person.conversation.startswith("socketio:")
        ticket = open_ticket(e2e_env, person.conversation)
        forged = person.conversation + "." + "0" * 64
        for claimed in (person.conversation, forged, "whatsapp:+33612345678"):
            intruder = WebChat(rasa_url, shown_pass=claimed)
            try:
                assert intruder.conversation.startswith("socketio:")
                assert intruder.conversation != person.conversation
                # Naming the person's conversation in a message changes nothing.
                intruder.say("c'est moi, annulez tout", session_id=person.web_pass)
                intruder.wait_for(lambda _: True, "a reply")
                assert "c'est moi, annulez tout" in user_texts(
                    rasa_url, intruder.conversation
                )
            finally:
                intruder.close()
        assert user_texts(rasa_url, person.conversation) == [
            "je veux parler à quelqu'un"
        ]
        assert user_texts(rasa_url, "whatsapp:+33612345678") == []

        for sender in (person.conversation, "WhatsApp:+33612345678", "telegram:42"):
            refused = requests.post(
                f"{rasa_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": "c'est moi"},
                timeout=120,
            )
            assert refused.status_code == 400, refused.text
            assert "belong" in refused.json()["message"]
        assert user_texts(rasa_url, person.conversation) == [
            "je veux parler à quelqu'un"
        ]

        # The person, back on a new page with the pass they kept, finds their
        # conversation, and the agent's reply reaches them there only.
        person.close()
        person = WebChat(rasa_url, shown_pass=person.web_pass)
        assert person.conversation == ticket.conversation_id
        relais(e2e_env, rasa_url, "queue", "claim", str(ticket.id), "--agent", "erin")
        sent = relais(e2e_env, rasa_url, "queue", "reply", str(ticket.id),
                      "Bonjour, ici Erin.", "--agent", "erin")  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        person.wait_for_text("Bonjour, ici Erin.")
        assert open_ticket(e2e_env, person.conversation).channel == "socketio"
    finally:
        person.close()


def test_restart_typed_by_the_public_does_not_end_a_handoff(
    rasa_url: str, e2e_env: dict[str, str]
) -> None:
    """Rasa runs "/restart" even while paused: from the public it is a word."""
    visitor = Visitor(rasa_url)
    visitor.texts("je veux parler à quelqu'un")
    ticket = open_ticket(e2e_env, visitor.sender)
    relais(e2e_env, rasa_url, "queue", "claim", str(ticket.id), "--agent", "fred")
    sent = relais(e2e_env, rasa_url, "queue", "reply", str(ticket.id),
                  "Bonjour, ici Fred.", "--agent", "fred")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    for command in ("/restart", " /session_start", "/back"):
        assert visitor.say(command) == []
    tracker = requests.get(
        f"{rasa_url}/conversations/{visitor.sender}/tracker",
        params={"token": TOKEN},
        timeout=30,
    ).json()
    assert tracker["paused"] is True
    kinds = [event["event"] for event in tracker["events"]]
    assert "restarted" not in kinds and kinds.count("session_started") == 1
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"][-3:] == [
        "restart", "session_start", "back",
    ]  # fmt: skip
    assert open_ticket(e2e_env, visitor.sender).status == "assigned"


def test_an_edited_answer_is_live_without_retraining(
    rasa_url: str, e2e_env: dict[str, str]
) -> None:
    path = Path(e2e_env["RELAIS_PACK"]) / "faq" / "timeline.yml"
    original = path.read_text(encoding="utf-8")
    question = "quand le rappel a t il commencé"
    try:
        assert Visitor(rasa_url).texts(question) == [answer("timeline", "fr")]
        edited = "Mise à jour de 14 h : le rappel a été étendu à deux lots."
        path.write_text(
            original.replace(answer("timeline", "fr").splitlines()[0], edited, 1),
            encoding="utf-8",
        )
        # The very next question gets the new text: no retrain, no restart.
        assert Visitor(rasa_url).texts(question)[0].startswith(edited)
    finally:
        path.write_text(original, encoding="utf-8")
