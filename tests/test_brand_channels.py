"""Messenger, Instagram, WhatsApp and Telegram end to end.

The real Rasa server and action server run with every channel configured as
the README says, pointed at a local stand-in of Meta's Graph API and
Telegram's Bot API (tests/providers.py), which checks each request against
the providers' documented shapes and limits. The tests post the providers'
documented webhook bodies, signed with the test secrets, and read what the
people would receive; agents answer from the console (in-process, on the
same database and Rasa).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.console import accounts
from bot.console.app import create_app
from bot.db import get_session_factory, upgrade
from bot.events.sql import watch_once
from bot.faq import load_pack
from bot.faq.buttons import HUMAN_BUTTON_SHORT_TITLES
from bot.handoff import queue
from bot.handoff.models import Ticket
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import TEST_ENVIRONMENT
from tests.providers import (
    Accounts,
    StandIn,
    is_message,
    provider_stand_in,
    sign,
    text_of,
)
from tests.servers import ServerError, running_relais
from tests.test_console import csrf_of

pytestmark = pytest.mark.e2e

TOKEN = "channels-token"
APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "meta-verify-token-for-tests"
TELEGRAM_SECRET = "telegram-secret-for-tests"
ACCOUNTS = Accounts(
    messenger_token="messenger-page-token",
    instagram_token="instagram-token",
    whatsapp_token="whatsapp-token",
    whatsapp_phone_number_id="106540352242922",
    telegram_token="110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
)
PASSWORD = "correct horse battery"
PACK = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")


def answer(topic: str, language: str) -> str:
    return PACK[topic].answers[language].strip()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("channels")


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    with provider_stand_in(ACCOUNTS) as running:
        yield running
    # Whatever the test, Relais never sent what a provider would refuse.
    assert running.refused() == []


@pytest.fixture(scope="module")
def channel_env(work: Path, stand_in: StandIn) -> dict[str, str]:
    """The .env a brand fills in (README, Channels), and the stand-in's address."""
    database_url = f"sqlite:///{work / 'relais.db'}"
    upgrade(database_url)
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", work / "pack")
    return {
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "DATABASE_URL": database_url,
        "RELAIS_SPOOL_DIR": str(work / "spool"),
        "RELAIS_PACK": str(work / "pack"),
        "RELAIS_META_APP_SECRET": APP_SECRET,
        "RELAIS_META_VERIFY_TOKEN": VERIFY_TOKEN,
        "RELAIS_META_HUMAN_AGENT": "on",
        "RELAIS_MESSENGER_PAGE_TOKEN": ACCOUNTS.messenger_token,
        "RELAIS_INSTAGRAM_TOKEN": ACCOUNTS.instagram_token,
        "RELAIS_WHATSAPP_TOKEN": ACCOUNTS.whatsapp_token,
        "RELAIS_WHATSAPP_PHONE_NUMBER_ID": ACCOUNTS.whatsapp_phone_number_id,
        "RELAIS_TELEGRAM_TOKEN": ACCOUNTS.telegram_token,
        "RELAIS_TELEGRAM_SECRET": TELEGRAM_SECRET,
        "RELAIS_META_GRAPH_URL": stand_in.graph_url,
        "RELAIS_TELEGRAM_API_URL": stand_in.url,
    }


@pytest.fixture(scope="module")
def rasa_url(work: Path, channel_env: dict[str, str]) -> Iterator[str]:
    env = {**os.environ, **channel_env, "RASA_TELEMETRY_ENABLED": "false"}
    try:
        with running_relais(work, env, TOKEN) as url:
            yield url
    except ServerError as error:
        pytest.fail(str(error))


# --- the providers' webhooks ---------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4().int)[:16]


def messaging(kind: str, person: str, message: dict[str, Any]) -> dict[str, Any]:
    """Messenger's or Instagram's webhook body, as documented."""
    return {
        "object": "page" if kind == "messenger" else "instagram",
        "entry": [
            {
                "id": "1234567890",
                "time": int(time.time() * 1000),
                "messaging": [
                    {
                        "sender": {"id": person},
                        "recipient": {"id": "1234567890"},
                        "timestamp": int(time.time() * 1000),
                        "message": {"mid": f"m_{new_id()}", **message},
                    }
                ],
            }
        ],
    }


def whatsapp(person: str, message: dict[str, Any]) -> dict[str, Any]:
    """The WhatsApp Cloud API's webhook body, as documented."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": ACCOUNTS.whatsapp_phone_number_id,
                            },
                            "contacts": [
                                {"profile": {"name": "Kerry Fisher"}, "wa_id": person}
                            ],
                            "messages": [
                                {
                                    "from": person,
                                    "id": f"wamid.{new_id()}",
                                    "timestamp": str(int(time.time())),
                                    **message,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def telegram_message(chat: int, text: str) -> dict[str, Any]:
    return {
        "update_id": int(new_id()[:9]),
        "message": {
            "message_id": 1,
            "from": {
                "id": chat,
                "is_bot": False,
                "first_name": "Ana",
                "language_code": "fr",
            },
            "chat": {"id": chat, "first_name": "Ana", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }


def telegram_tap(chat: int, data: str) -> dict[str, Any]:
    return {
        "update_id": int(new_id()[:9]),
        "callback_query": {
            "id": new_id(),
            "from": {"id": chat, "is_bot": False, "first_name": "Ana"},
            "message": {
                "message_id": 2,
                "chat": {"id": chat, "type": "private"},
                "date": int(time.time()),
                "text": "…",
            },
            "chat_instance": "-1",
            "data": data,
        },
    }


def post_meta(
    rasa_url: str, channel: str, body: dict[str, Any], secret: str | None = APP_SECRET
) -> requests.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, raw)
    return requests.post(
        f"{rasa_url}/webhooks/{channel}/webhook", data=raw, headers=headers, timeout=120
    )


def post_telegram(
    rasa_url: str, body: dict[str, Any], secret: str = TELEGRAM_SECRET
) -> requests.Response:
    return requests.post(
        f"{rasa_url}/webhooks/telegram/webhook",
        json=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        timeout=120,
    )


def tracker_events(rasa_url: str, conversation: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{rasa_url}/conversations/{conversation}/tracker",
        params={"token": TOKEN},
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json().get("events") or [])


# --- answers on each channel -------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "question", "language", "token"),
    [
        (
            "messenger",
            "Quels lots sont concernés par le rappel ?",
            "fr",
            ACCOUNTS.messenger_token,
        ),
        (
            "instagram",
            "Which lots are affected by the recall?",
            "en",
            ACCOUNTS.instagram_token,
        ),
    ],
)
def test_messenger_and_instagram_answer_in_the_persons_language(
    rasa_url: str,
    stand_in: StandIn,
    channel: str,
    question: str,
    language: str,
    token: str,
) -> None:
    person = new_id()
    body = messaging(channel, person, {"text": question})
    assert post_meta(rasa_url, channel, body).status_code == 200
    (sent,) = stand_in.wait_for(channel, person, 1)
    assert sent.body["messaging_type"] == "RESPONSE"
    assert text_of(sent) == answer("lot_numbers", language)
    assert sent.query["access_token"] == token


def test_whatsapp_offers_buttons_within_limits_and_a_tap_answers(
    rasa_url: str, stand_in: StandIn
) -> None:
    person = "3361" + new_id()[:8]
    vague = whatsapp(person, {"type": "text", "text": {"body": "c'est dangereux ?"}})
    assert post_meta(rasa_url, "whatsapp", vague).status_code == 200
    (offer,) = stand_in.wait_for("whatsapp", person, 1)
    interactive = offer.body["interactive"]
    assert "pas sûr d'avoir bien compris" in interactive["body"]["text"]
    if interactive["type"] == "button":
        choices = [
            (b["reply"]["id"], b["reply"]["title"])
            for b in interactive["action"]["buttons"]
        ]
    else:
        rows = interactive["action"]["sections"][0]["rows"]
        choices = [(row["id"], row["title"]) for row in rows]
    assert choices[-1] == ("/request_human", HUMAN_BUTTON_SHORT_TITLES["fr"])
    topic_id, _ = choices[0]
    topic = re.search(r'"faq_topic":"(\w+)"', topic_id)
    assert topic is not None, topic_id

    tap = whatsapp(
        person,
        {
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": topic_id, "title": "x"},
            },
        },
    )
    assert post_meta(rasa_url, "whatsapp", tap).status_code == 200
    sent = stand_in.wait_for("whatsapp", person, 2)
    assert sent[1].body["type"] == "text"
    assert text_of(sent[1]) == answer(topic[1], "fr")


def test_telegram_answers_offers_buttons_and_a_tap_answers(
    rasa_url: str, stand_in: StandIn
) -> None:
    chat = int(new_id()[:9])
    person = str(chat)
    assert post_telegram(rasa_url, telegram_message(chat, "/start")).status_code == 200
    greeted = len(stand_in.wait_for("telegram", person, 1))
    assert (
        post_telegram(
            rasa_url, telegram_message(chat, "comment me faire rembourser ?")
        ).status_code
        == 200
    )
    sent = stand_in.wait_for("telegram", person, greeted + 1)
    assert text_of(sent[-1]) == answer("refund", "fr")

    assert post_telegram(rasa_url, telegram_message(chat, "c'est dangereux ?")).ok
    offer = stand_in.wait_for("telegram", person, greeted + 2)[-1]
    keyboard = offer.body["reply_markup"]["inline_keyboard"]
    data = [row[0]["callback_data"] for row in keyboard]
    assert data[-1] == "/request_human"
    assert keyboard[-1][0]["text"] == "Autre chose : parler à un conseiller"
    tap = telegram_tap(chat, data[0])
    assert post_telegram(rasa_url, tap).status_code == 200
    answered = stand_in.wait_for("telegram", person, greeted + 3)[-1]
    topic = re.search(r'"faq_topic":"(\w+)"', data[0]) or re.match(
        r"faq:(\w+)", data[0]
    )
    assert topic is not None
    assert text_of(answered) == answer(topic[1], "fr")
    spinner = [
        c for c in stand_in.sent("telegram") if c.path.endswith("answerCallbackQuery")
    ]
    assert tap["callback_query"]["id"] in [c.body["callback_query_id"] for c in spinner]


def test_a_long_answer_is_split_at_sentences_on_each_channel(
    rasa_url: str, stand_in: StandIn, channel_env: dict[str, str]
) -> None:
    faq = Path(channel_env["RELAIS_PACK"]) / "faq"
    path = faq / "timeline.yml"
    original = path.read_text(encoding="utf-8")
    sentences = [
        f"Le {day} novembre, étape {day} du rappel : les magasins ont retiré les "
        "lots concernés et nous avons informé les autorités sanitaires."
        for day in range(1, 29)
    ]
    first_line = answer("timeline", "fr").splitlines()[0]
    path.write_text(
        original.replace(first_line, " ".join(sentences), 1), encoding="utf-8"
    )
    long_answer = load_pack(faq)["timeline"].answers["fr"].strip()
    assert len(long_answer) > 2000
    try:
        question = {"text": "quand le rappel a t il commencé"}
        for channel, limit, measure in (
            ("messenger", 2000, len),
            ("instagram", 1000, lambda text: len(text.encode())),
        ):
            person = new_id()
            assert post_meta(rasa_url, channel, messaging(channel, person, question)).ok
            expected = -(-measure(long_answer) // limit)  # at least this many
            parts = [text_of(c) for c in stand_in.wait_for(channel, person, expected)]
            assert len(parts) >= expected
            assert all(measure(part) <= limit for part in parts)
            assert all(re.search(r"[.!?…]$", part) for part in parts), parts
            assert " ".join(parts).split() == long_answer.split()
    finally:
        path.write_text(original, encoding="utf-8")


# --- signatures --------------------------------------------------------------


def test_forged_or_missing_signatures_are_refused_and_never_processed(
    rasa_url: str, stand_in: StandIn, work: Path
) -> None:
    person = new_id()
    question = {"text": "Quels lots sont concernés par le rappel ?"}
    forged = post_meta(
        rasa_url,
        "messenger",
        messaging("messenger", person, question),
        secret="not-the-app-secret",
    )
    unsigned = post_meta(
        rasa_url, "messenger", messaging("messenger", person, question), secret=None
    )
    number = "3362" + new_id()[:8]
    forged_whatsapp = post_meta(
        rasa_url,
        "whatsapp",
        whatsapp(number, {"type": "text", "text": {"body": "bonjour"}}),
        secret="not-the-app-secret",
    )
    chat = int(new_id()[:9])
    forged_telegram = post_telegram(
        rasa_url, telegram_message(chat, "bonjour"), secret="guessed"
    )
    for refused in (forged, unsigned, forged_whatsapp, forged_telegram):
        assert refused.status_code == 403
    time.sleep(3)  # what a processed message would have taken to be answered
    assert stand_in.sent("messenger", person) == []
    assert stand_in.sent("whatsapp", number) == []
    assert stand_in.sent("telegram", str(chat)) == []
    for conversation in (
        f"messenger:{person}",
        f"whatsapp:{number}",
        f"telegram:{chat}",
    ):
        assert [
            e for e in tracker_events(rasa_url, conversation) if e["event"] == "user"
        ] == []
    log = (work / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "messenger webhook refused: bad or missing signature" in log
    assert "telegram webhook refused: bad or missing signature" in log


def test_meta_subscription_check_needs_the_verify_token(rasa_url: str) -> None:
    url = f"{rasa_url}/webhooks/messenger/webhook"
    ok = requests.get(
        url,
        params={
            "hub.mode": "subscribe",
            "hub.challenge": "1158201444",
            "hub.verify_token": VERIFY_TOKEN,
        },
        timeout=30,
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    # Compared as bytes: an accented guess is refused like any other.
    for guess in ("guess", "clé-devinée"):
        wrong = requests.get(
            url,
            params={
                "hub.mode": "subscribe",
                "hub.challenge": "1",
                "hub.verify_token": guess,
            },
            timeout=30,
        )
        assert wrong.status_code == 403, guess


# --- handoff across channels ------------------------------------------------


@pytest.fixture
def console(
    rasa_url: str, channel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The console on the servers' database and Rasa, signed in as Marie."""
    for name, value in channel_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RASA_URL", rasa_url)
    get_settings.cache_clear()
    with get_session_factory(channel_env["DATABASE_URL"]).begin() as session:
        if accounts.find_agent(session=session, name="marie") is None:
            accounts.add_agent(
                session=session,
                name="marie",
                role="agent",
                password=PASSWORD,
                display_name="Marie",
            )
    app = create_app(get_settings())
    app.state.stream_events = 1
    browser = TestClient(app, follow_redirects=False)
    token = csrf_of(browser.get("/login").text)
    signed = browser.post(
        "/login",
        data={"name": "marie", "password": PASSWORD, "csrf": token, "next": "/"},
    )
    assert signed.status_code == 303, signed.text
    yield browser
    get_settings.cache_clear()


def open_ticket(channel_env: dict[str, str], conversation: str) -> Ticket:
    deadline = time.monotonic() + 60
    factory = get_session_factory(channel_env["DATABASE_URL"])
    while time.monotonic() < deadline:
        with factory.begin() as session:
            ticket = session.scalars(
                select(Ticket).where(Ticket.conversation_id == conversation)
            ).first()
            if ticket is not None:
                session.expunge(ticket)
                return ticket
        time.sleep(0.2)
    raise AssertionError(f"no ticket for {conversation}")


def act(browser: TestClient, ticket_id: int, action: str, **form: str) -> Any:
    page = browser.get(f"/tickets/{ticket_id}", headers={"accept": "text/html"})
    return browser.post(
        f"/tickets/{ticket_id}/{action}",
        data={"csrf": csrf_of(page.text), **form},
        headers={"accept": "application/json"},
    )


def test_a_whatsapp_handoff_is_answered_from_the_console_on_whatsapp(
    rasa_url: str, stand_in: StandIn, channel_env: dict[str, str], console: TestClient
) -> None:
    number = "3363" + new_id()[:8]
    ask = whatsapp(
        number, {"type": "text", "text": {"body": "je veux parler à un conseiller"}}
    )
    assert post_meta(rasa_url, "whatsapp", ask).ok
    (queued,) = stand_in.wait_for("whatsapp", number, 1)
    assert text_of(queued).startswith("Je transmets notre conversation")
    ticket = open_ticket(channel_env, f"whatsapp:{number}")
    assert ticket.channel == "whatsapp"

    page = console.get(f"/tickets/{ticket.id}", headers={"accept": "text/html"})
    assert "WhatsApp" in page.text
    assert "free replies until" in page.text
    assert act(console, ticket.id, "claim").status_code == 200
    sent = act(
        console, ticket.id, "reply", text="Bonjour, ici Marie. Que s'est-il passé ?"
    )
    assert sent.status_code == 200, sent.text
    delivered = stand_in.wait_for("whatsapp", number, 2)[-1]
    assert text_of(delivered) == "Bonjour, ici Marie. Que s'est-il passé ?\n— Marie"

    # The person answers on WhatsApp: the agent reads it, the bot stays quiet.
    again = whatsapp(
        number, {"type": "text", "text": {"body": "Je suis malade depuis hier soir"}}
    )
    assert post_meta(rasa_url, "whatsapp", again).ok
    deadline = time.monotonic() + 60
    while (
        "Je suis malade depuis hier soir"
        not in console.get(
            f"/tickets/{ticket.id}", headers={"accept": "text/html"}
        ).text
    ):
        assert time.monotonic() < deadline, (
            "the person's message never reached the console"
        )
        time.sleep(0.5)
    assert len(stand_in.sent("whatsapp", number)) == 2


def stale_conversation(
    rasa_url: str, channel_env: dict[str, str], channel: str, person: str, hours: float
) -> Ticket:
    """A conversation whose person last wrote `hours` ago, waiting for a human."""
    conversation = f"{channel}:{person}"
    response = requests.post(
        f"{rasa_url}/conversations/{conversation}/tracker/events",
        params={"token": TOKEN},
        json=[
            {
                "event": "user",
                "text": "je veux parler à un conseiller",
                "timestamp": time.time() - hours * 3600,
                "input_channel": channel,
                "parse_data": {"intent": {"name": "request_human", "confidence": 1.0}},
            }
        ],
        timeout=30,
    )
    response.raise_for_status()
    with get_session_factory(channel_env["DATABASE_URL"]).begin() as session:
        ticket = queue.enqueue(
            session=session,
            request=queue.HandoffRequest(
                conversation,
                channel,
                "fr",
                "asked_for_human",
                "normal",
                "je veux parler à un conseiller",
                [],
            ),
        )
        session.flush()
        session.expunge(ticket)
    return ticket


def test_past_the_whatsapp_window_the_console_says_so_and_sends_nothing(
    rasa_url: str, stand_in: StandIn, channel_env: dict[str, str], console: TestClient
) -> None:
    number = "3364" + new_id()[:8]
    ticket = stale_conversation(rasa_url, channel_env, "whatsapp", number, hours=26)
    assert act(console, ticket.id, "claim").status_code == 200
    page = console.get(f"/tickets/{ticket.id}", headers={"accept": "text/html"}).text
    assert "past the 24-hour window" in page
    assert "only templates Meta approved" in page
    assert re.search(r'<button type="submit" id="send-button" disabled', page)
    refused = act(console, ticket.id, "reply", text="Bonjour ?")
    assert refused.status_code == 409
    assert "past the 24-hour window" in refused.json()["message"]
    assert stand_in.sent("whatsapp", number) == []


def test_past_24_hours_messenger_replies_go_out_tagged_human_agent(
    rasa_url: str, stand_in: StandIn, channel_env: dict[str, str], console: TestClient
) -> None:
    person = new_id()
    ticket = stale_conversation(rasa_url, channel_env, "messenger", person, hours=30)
    assert act(console, ticket.id, "claim").status_code == 200
    page = console.get(f"/tickets/{ticket.id}", headers={"accept": "text/html"}).text
    assert "tagged Human Agent" in page
    sent = act(console, ticket.id, "reply", text="Bonjour, nous revenons vers vous.")
    assert sent.status_code == 200, sent.text
    (delivered,) = stand_in.wait_for("messenger", person, 1)
    assert delivered.body["messaging_type"] == "MESSAGE_TAG"
    assert delivered.body["tag"] == "HUMAN_AGENT"
    assert text_of(delivered) == "Bonjour, nous revenons vers vous.\n— Marie"


def test_a_reply_the_provider_refuses_is_reported_not_lost(
    rasa_url: str, stand_in: StandIn, channel_env: dict[str, str], console: TestClient
) -> None:
    chat = new_id()[:9]
    ticket = stale_conversation(rasa_url, channel_env, "telegram", chat, hours=1)
    assert act(console, ticket.id, "claim").status_code == 200
    stand_in.failing["telegram"] = {
        "description": "Forbidden: bot was blocked by the user"
    }
    try:
        refused = act(console, ticket.id, "reply", text="Bonjour ?")
    finally:
        del stand_in.failing["telegram"]
    assert refused.status_code == 502
    assert "bot was blocked by the user" in refused.json()["message"]
    # Not in the conversation as if it had been read.
    bot_texts = [
        e.get("text")
        for e in tracker_events(rasa_url, f"telegram:{chat}")
        if e["event"] == "bot"
    ]
    assert "Bonjour ?" not in bot_texts


def test_past_the_window_a_ticket_still_closes_without_a_message(
    rasa_url: str, stand_in: StandIn, channel_env: dict[str, str], console: TestClient
) -> None:
    number = "3365" + new_id()[:8]
    ticket = stale_conversation(rasa_url, channel_env, "whatsapp", number, hours=48)
    assert act(console, ticket.id, "claim").status_code == 200
    closed = act(console, ticket.id, "close")
    assert closed.status_code == 200, closed.text
    events = tracker_events(rasa_url, f"whatsapp:{number}")
    assert events[-2]["event"] == "resume"  # the bot answers them again
    assert stand_in.sent("whatsapp", number) == []


def test_past_the_whatsapp_window_the_brands_invitation_reopens_it(
    rasa_url: str,
    stand_in: StandIn,
    channel_env: dict[str, str],
    console: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAIS_WHATSAPP_TEMPLATE", "relais_write_again")
    get_settings.cache_clear()
    console.app.state.settings = get_settings()  # type: ignore[attr-defined]
    number = "3366" + new_id()[:8]
    ticket = stale_conversation(rasa_url, channel_env, "whatsapp", number, hours=30)
    assert act(console, ticket.id, "claim").status_code == 200
    page = console.get(f"/tickets/{ticket.id}", headers={"accept": "text/html"}).text
    assert "the invitation (relais_write_again) can" in page
    assert re.search(r'id="invite-form"\s*>', page)  # shown, not hidden
    assert act(console, ticket.id, "reply", text="Bonjour ?").status_code == 409

    assert act(console, ticket.id, "invite").status_code == 200
    (sent,) = stand_in.wait_for("whatsapp", number, 1)
    assert sent.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": number,
        "type": "template",
        "template": {"name": "relais_write_again", "language": {"code": "fr"}},
    }
    # The person answers the invitation: the window is open again.
    answer_ = whatsapp(number, {"type": "text", "text": {"body": "oui, je suis là"}})
    assert post_meta(rasa_url, "whatsapp", answer_).ok
    deadline = time.monotonic() + 60
    while True:
        sent_reply = act(console, ticket.id, "reply", text="Merci, je vous écoute.")
        if sent_reply.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sent_reply.status_code == 200, sent_reply.text
    delivered = stand_in.wait_for("whatsapp", number, 2)[-1]
    assert text_of(delivered) == "Merci, je vous écoute.\n— Marie"


# --- corrections (issue 30) ---------------------------------------------------


def test_a_correction_reaches_each_person_once_within_their_channels_rules(
    rasa_url: str,
    stand_in: StandIn,
    channel_env: dict[str, str],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """People on Messenger, Telegram, WhatsApp and the REST API get answer
    v1; the answer changes; a correction is drafted, approved by a second
    editor and sent: Messenger and Telegram get it, in the person's
    language, once, even when the job runs again; WhatsApp's person, who
    wrote 30 hours ago, and the REST caller are counted, not messaged."""
    from bot.cli import main
    from bot.faq.writer import write_topics
    from bot.insights.models import MessageFact

    topic = "back_in_stores"
    database_url = channel_env["DATABASE_URL"]
    messenger, chat, number = new_id(), int(new_id()[:9]), "3365" + new_id()[:8]
    asked = [
        ("messenger", messenger, "fr"),
        ("telegram", str(chat), "fr"),
        ("whatsapp", number, "en"),
    ]
    questions = {"fr": "quand les produits reviendront en rayon ?",
                 "en": "when will the products be back in stores?"}  # fmt: skip
    body = messaging("messenger", messenger, {"text": questions["fr"]})
    assert post_meta(rasa_url, "messenger", body).status_code == 200
    assert post_telegram(rasa_url, telegram_message(chat, questions["fr"])).ok
    body = whatsapp(number, {"type": "text", "text": {"body": questions["en"]}})
    assert post_meta(rasa_url, "whatsapp", body).status_code == 200
    for channel, person, language in asked:
        (got,) = stand_in.wait_for(channel, person, 1)
        assert text_of(got) == answer(topic, language), channel
    rest = requests.post(
        f"{rasa_url}/webhooks/rest/webhook",
        json={"sender": f"rest-{new_id()}", "message": questions["fr"]},
        timeout=120,
    )
    assert rest.json()[0]["text"] == answer(topic, "fr")

    # The console's watcher records where and when each person wrote; the
    # WhatsApp person's last message is moved 30 hours back.
    events_url = f"sqlite:///{work / 'tracker.db'}"
    while watch_once(database_url, events_url)[0]:
        pass
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        for fact in session.scalars(
            select(MessageFact).where(MessageFact.conversation_id.like(f"%{number}"))
        ):
            fact.at = fact.at - timedelta(hours=30)

    # An editor changes the answer (the pack's file: live at once).
    changed = PACK[topic].answers | {
        "fr": "Les produits reviennent en rayon le 15 décembre.",
        "en": "The products are back in shops on 15 December.",
    }
    write_topics(
        work / "pack" / "faq", [dataclasses.replace(PACK[topic], answers=changed)]
    )
    for name, value in {**channel_env, "RASA_URL": rasa_url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    two_editors(database_url)
    before = {c: len(stand_in.sent(c, p)) for c, p, _ in asked}
    assert main(["corrections", "draft", topic, "--agent", "claire",
                 "--changed", "date de retour : le 15 décembre"]) == 0  # fmt: skip
    (correction_id,) = re.findall(r"Correction #(\d+) drafted", capsys.readouterr().out)
    assert main(["corrections", "approve", correction_id, "--agent", "malik"]) == 0
    for _run in range(2):  # the second run finds nobody left to message
        assert main(["corrections", "send", correction_id]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\b2\s+sent\b", out) and re.search(r"\b1\s+out of", out)
    assert re.search(r"\b1\s+unreachable \(REST API\)", out)

    (to_messenger,) = stand_in.sent("messenger", messenger)[before["messenger"] :]
    assert text_of(to_messenger) == (
        "Mise à jour : date de retour : le 15 décembre\n"
        "Les produits reviennent en rayon le 15 décembre."
    )
    (to_telegram,) = stand_in.sent("telegram", str(chat))[before["telegram"] :]
    assert "15 décembre" in text_of(to_telegram)
    assert stand_in.sent("whatsapp", number)[before["whatsapp"] :] == []
    # The conversation holds the correction, marked with its id.
    marked = [
        e for e in tracker_events(rasa_url, f"telegram:{chat}")
        if e["event"] == "bot"
        and (e.get("metadata") or {}).get("relais_correction") == int(correction_id)
    ]  # fmt: skip
    assert len(marked) == 1

    # A job that crashed right after Rasa sent the Telegram person's message,
    # before recording it, leaves them "sending": run again, it finds the
    # correction in their conversation and sends nothing more.
    from bot.corrections.sending import SENDING, SENT, CorrectionSend

    with factory.begin() as session:
        row = session.get(CorrectionSend, (int(correction_id), f"telegram:{chat}"))
        assert row is not None
        row.outcome, row.job = SENDING, "crashed-job"
    sent_before = len(stand_in.sent("telegram", str(chat)))
    assert main(["corrections", "send", correction_id]) == 0
    assert len(stand_in.sent("telegram", str(chat))) == sent_before
    with factory.begin() as session:
        row = session.get(CorrectionSend, (int(correction_id), f"telegram:{chat}"))
        assert row is not None and row.outcome == SENT


def two_editors(database_url: str) -> None:
    """Claire drafts, Malik approves (corrections are always four-eyes)."""
    with get_session_factory(database_url).begin() as session:
        for name in ("claire", "malik"):
            if accounts.find_agent(session=session, name=name) is None:
                accounts.add_agent(
                    session=session, name=name, role="editor", password=PASSWORD
                )


def read(call: Any) -> str:
    """The text of a message, a Messenger button template's included."""
    message = call.body.get("message") or {}
    payload = (message.get("attachment") or {}).get("payload") or {}
    return str(payload.get("text") or text_of(call))


def test_people_ask_for_news_in_their_words_get_an_update_and_can_stop(
    rasa_url: str,
    stand_in: StandIn,
    channel_env: dict[str, str],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ana, on Telegram in French, is answered on refunds and asks to be
    kept informed: she follows that topic. Ben, on Messenger in English,
    asks for news straight away: he follows the whole crisis. An update on
    refunds, drafted and approved by two editors, reaches both, with a
    button to stop. Ana says stop; the next update reaches Ben only."""
    from bot.cli import main

    database_url = channel_env["DATABASE_URL"]
    chat, ben = int(new_id()[:9]), new_id()
    ana = str(chat)
    assert post_telegram(
        rasa_url, telegram_message(chat, "comment me faire rembourser ?")
    ).ok
    stand_in.wait_for("telegram", ana, 1)
    assert post_telegram(
        rasa_url, telegram_message(chat, "prévenez-moi s'il y a du nouveau svp")
    ).ok
    subscribed = stand_in.wait_for("telegram", ana, 2)[-1]
    assert "« Remboursement » change" in read(subscribed)
    keyboard = subscribed.body["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == [
        "Toutes les nouvelles",
        "Ne plus être prévenu",
    ]
    body = messaging("messenger", ben, {"text": "please keep me posted"})
    assert post_meta(rasa_url, "messenger", body).status_code == 200
    (welcome,) = stand_in.wait_for("messenger", ben, 1)
    assert "I'll tell you here of any news about" in read(welcome)

    # Where each person wrote, as the console's watcher records it.
    events_url = f"sqlite:///{work / 'tracker.db'}"
    while watch_once(database_url, events_url)[0]:
        pass
    for name, value in {**channel_env, "RASA_URL": rasa_url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    two_editors(database_url)

    def update(*topic: str, news: str) -> None:
        assert main(["corrections", "update", *topic, "--agent", "claire",
                     "--news", news]) == 0  # fmt: skip
        (update_id,) = re.findall(r"Update #(\d+) drafted", capsys.readouterr().out)
        assert main(["corrections", "approve", update_id, "--agent", "malik"]) == 0
        assert main(["corrections", "send", update_id]) == 0

    update("refund", news="le remboursement est prolongé jusqu'au 28 février")
    (to_ana,) = stand_in.wait_for("telegram", ana, 3)[2:]
    assert read(to_ana).startswith(
        "Du nouveau : le remboursement est prolongé jusqu'au 28 février"
    )
    assert [
        row[0]["text"] for row in to_ana.body["reply_markup"]["inline_keyboard"]
    ] == ["Ne plus être prévenu"]
    (to_ben,) = stand_in.wait_for("messenger", ben, 2)[1:]
    assert read(to_ben).startswith(
        "News: le remboursement est prolongé jusqu'au 28 février"
    )

    assert post_telegram(rasa_url, telegram_message(chat, "stop")).ok
    (stopped,) = stand_in.wait_for("telegram", ana, 4)[3:]
    assert read(stopped).startswith("C'est fait : vous ne recevrez plus de nouvelles")
    while watch_once(database_url, events_url)[0]:
        pass
    update(news="les magasins sont de nouveau approvisionnés")
    out = capsys.readouterr().out
    assert re.search(r"\b1\s+sent\b", out), out
    (second,) = stand_in.wait_for("messenger", ben, 3)[2:]
    assert "approvisionnés" in read(second)
    time.sleep(1)  # anything on its way to Ana would have arrived
    assert len([c for c in stand_in.sent("telegram", ana) if is_message(c)]) == 4


def test_telegram_is_asked_how_it_went_after_the_hand_back_and_it_is_counted(
    rasa_url: str, stand_in: StandIn, channel_env: dict[str, str], console: TestClient
) -> None:
    chat = int(new_id()[:9])
    person = str(chat)
    asked = post_telegram(
        rasa_url, telegram_message(chat, "I want to talk to a person")
    )
    assert asked.ok
    (queued,) = stand_in.wait_for("telegram", person, 1)
    assert text_of(queued).startswith("I'm passing our conversation to a person")
    ticket = open_ticket(channel_env, f"telegram:{person}")
    assert act(console, ticket.id, "claim").status_code == 200
    assert (
        act(console, ticket.id, "reply", text="Hello, Marie here.").status_code == 200
    )
    closed = act(console, ticket.id, "close")
    assert closed.status_code == 200, closed.text

    # After the closing message, once, in English: 1 to 5 as buttons.
    closing, question = stand_in.wait_for("telegram", person, 4)[2:]
    assert text_of(closing).startswith("Our agent has ended the conversation")
    assert text_of(question).startswith("One last thing: did our conversation help")
    keyboard = question.body["reply_markup"]["inline_keyboard"]
    titles = [button["text"] for row in keyboard for button in row]
    assert titles == ["1 – Not at all", "2", "3", "4", "5 – Very satisfied"]
    five = [button for row in keyboard for button in row][4]["callback_data"]
    assert post_telegram(rasa_url, telegram_tap(chat, five)).ok
    (thanked,) = stand_in.wait_for("telegram", person, 5)[4:]
    assert text_of(thanked).startswith("Thank you for your feedback")
    comment = telegram_message(chat, "Marie was kind and quick")
    assert post_telegram(rasa_url, comment).ok
    (kept,) = stand_in.wait_for("telegram", person, 6)[5:]
    assert text_of(kept).startswith("Thank you, your comment has been passed on")

    # Counted in the overview, with the agent, the reason and the comment.
    page = console.get("/overview").text
    table = " ".join(
        re.sub(r"<[^>]+>", " ", page.split('id="satisfaction"')[1]).split()
    )
    # Agents by the name the team knows them by.
    assert "Agent Marie" in table and "Channel Telegram" in table, table
    assert "Marie · 5/5 Marie was kind and quick" in table
    report = console.get("/report", params={"format": "html", "language": "en"})
    assert report.status_code == 200, report.text
    part = " ".join(
        re.sub(r"<[^>]+>", " ", report.text.split('id="satisfaction"')[1]).split()
    )
    assert "Agent Marie" in part and "Channel Telegram" in part, part
