"""End to end with the action server down: truthful replies, nothing lost.

The real Rasa server on the trained model, with its action endpoint pointing
at a port where nothing answers (as when the action server crashed). Before
bot/degraded.py, every message got "please rephrase" and a request for a
human was recorded nowhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.db import get_session_factory, upgrade
from bot.faq import load_pack
from bot.handoff import queue
from bot.handoff.switches import ALL_TO_HUMANS, QUEUE_CLOSED, set_switch
from bot.profile import load_profile
from bot.settings import PROJECT_ROOT
from tests.conftest import TEST_ENVIRONMENT
from tests.servers import ServerError, running_relais

pytestmark = pytest.mark.e2e

TOKEN = "degraded-token"
PACK_DIR = PROJECT_ROOT / "packs" / "dairy-recall"
PACK = load_pack(PACK_DIR / "faq")
PROFILE = load_profile(PACK_DIR)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("degraded")
    database_url = f"sqlite:///{work / 'relais.db'}"
    upgrade(database_url)
    return {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": database_url,
        "RELAIS_SPOOL_DIR": str(work / "spool"),
        "WORK_DIR": str(work),
    }


@pytest.fixture(scope="module")
def rasa_url(env: dict[str, str]) -> Iterator[str]:
    try:
        with running_relais(
            Path(env["WORK_DIR"]), env, TOKEN, with_actions=False
        ) as url:
            yield url
    except ServerError as error:
        pytest.fail(str(error))


def say(url: str, sender: str, text: str) -> list[str]:
    response = requests.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return [message.get("text", "") for message in response.json()]


def events(url: str, sender: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{url}/conversations/{sender}/tracker", params={"token": TOKEN}, timeout=30
    )
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def person() -> str:
    return f"person-{uuid.uuid4().hex[:8]}"


def test_a_question_the_faq_answers_still_gets_its_answer(rasa_url: str) -> None:
    sender = person()
    assert say(rasa_url, sender, "quels produits sont concernés ?") == [
        PACK["affected_products"].answers["fr"].strip()
    ]
    assert say(rasa_url, sender, "Which products are affected by the recall?") == [
        PACK["affected_products"].answers["en"].strip()
    ]
    # Both questions and both answers are in the conversation.
    recorded = [(e["event"], e.get("text")) for e in events(rasa_url, sender)]
    assert ("user", "quels produits sont concernés ?") in recorded
    assert sum(1 for kind, _ in recorded if kind == "bot") == 2


def test_anything_else_is_told_the_truth_with_the_contacts(rasa_url: str) -> None:
    (reply,) = say(rasa_url, person(), "bonjour, vous êtes là ?")
    assert "momentanément perturbé" in reply
    assert PROFILE.phone in reply and PROFILE.email in reply
    assert "reformuler" not in reply


def test_a_request_for_a_human_becomes_a_ticket_and_pauses_the_bot(
    rasa_url: str, env: dict[str, str]
) -> None:
    sender = person()
    (reply,) = say(rasa_url, sender, "je veux parler à quelqu'un")
    assert reply.startswith("Je transmets notre conversation")
    with get_session_factory(env["DATABASE_URL"]).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id=sender)
        assert ticket is not None
        assert (ticket.reason, ticket.priority, ticket.channel) == (
            "asked_for_human", "normal", "rest",
        )  # fmt: skip
    # The person keeps writing: recorded for the agent, no bot reply.
    assert say(rasa_url, sender, "c'est pour un remboursement") == []
    recorded = events(rasa_url, sender)
    assert any(e["event"] == "pause" for e in recorded)
    assert recorded[-1]["event"] == "user"
    assert recorded[-1]["text"] == "c'est pour un remboursement"


def test_someone_sick_gets_the_emergency_guidance_and_an_urgent_ticket(
    rasa_url: str, env: dict[str, str]
) -> None:
    sender = person()
    replies = say(rasa_url, sender, "j'ai mangé le produit et je vomis")
    assert replies[0] == PROFILE.emergency("health", "fr")
    assert replies[-1].startswith("Je transmets notre conversation")
    with get_session_factory(env["DATABASE_URL"]).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id=sender)
        assert ticket is not None
        assert (ticket.reason, ticket.priority) == ("health", "urgent")


def test_the_crisis_switches_hold_without_the_action_server(
    rasa_url: str, env: dict[str, str]
) -> None:
    """Issue 28: the degraded path took its own decision and ignored them."""
    factory = get_session_factory(env["DATABASE_URL"])

    def switch(name: str, enabled: bool) -> None:
        with factory.begin() as session:
            set_switch(session=session, name=name, enabled=enabled, author="root")

    def ticket_reason(sender: str) -> str | None:
        with factory.begin() as session:
            ticket = queue.open_ticket_for(session=session, conversation_id=sender)
            return ticket.reason if ticket is not None else None

    # All to humans: an FAQ question goes to the queue, not to the FAQ.
    switch(ALL_TO_HUMANS, True)
    try:
        sender = person()
        replies = say(rasa_url, sender, "quels produits sont concernés ?")
        assert PACK["affected_products"].answers["fr"].strip() not in replies
        assert replies[-1].startswith("Je transmets notre conversation")
        assert ticket_reason(sender) == "all_to_humans"
    finally:
        switch(ALL_TO_HUMANS, False)

    # Queue closed: a request for a human gets the contacts, no ticket, and
    # the bot stays with the person.
    switch(QUEUE_CLOSED, True)
    try:
        sender = person()
        replies = say(rasa_url, sender, "je veux parler à quelqu'un")
        assert any(PROFILE.phone in reply for reply in replies)
        assert ticket_reason(sender) is None
        assert not any(e["event"] == "pause" for e in events(rasa_url, sender))
    finally:
        switch(QUEUE_CLOSED, False)
