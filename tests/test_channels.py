"""The guard in front of the NLU pipeline (bot/channels/guard.py) and the web
chat's conversations (bot/channels/web.py)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.guard import TRUNCATED_KEY, guarded, warm_up
from bot.channels.web import history, new_web_conversation, web_conversation
from bot.nlu.gate import MAX_MESSAGE_LENGTH
from bot.rasa_api import WARM_UP_TEXTS


def _through_guard(text: str) -> UserMessage:
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    message = UserMessage(
        text, CollectingOutputChannel(), "someone", metadata={"page": "/recall"}
    )
    asyncio.run(guarded(on_new_message)(message))
    assert len(received) == 1
    return received[0]


def test_a_long_paste_reaches_the_assistant_cut_but_still_too_long() -> None:
    message = _through_guard("a" * 1_000_000)
    # One character past the gate's limit: the gate still says "too long".
    assert len(message.text or "") == MAX_MESSAGE_LENGTH + 1
    assert message.metadata == {"page": "/recall", TRUNCATED_KEY: 1_000_000}


def test_an_ordinary_message_passes_untouched() -> None:
    text = "Quels lots sont concernés ? " * 30
    message = _through_guard(text)
    assert message.text == text.strip()
    assert message.metadata == {"page": "/recall"}


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("/restart", "restart"),
        ("  / Restart ", "Restart"),
        ('/session_start{"x": 1}', 'session_start{"x": 1}'),
        ("/back@0.9", "back@0.9"),
        # Buttons' payloads are commands the chat offered: they stay commands.
        ("/request_human", "/request_human"),
        ('/faq{"topic": "refund"}', '/faq{"topic": "refund"}'),
        ("/restarting", "/restarting"),
    ],
)
def test_rasa_commands_typed_by_the_public_are_words(typed: str, read: str) -> None:
    """Rasa runs "/restart" even in a paused conversation: typed by a person
    waiting for a human, it ended the handoff (issue 26)."""
    assert _through_guard(typed).text == read


def test_the_web_chat_pass_opens_only_the_conversation_it_was_issued_for() -> None:
    conversation, web_pass = new_web_conversation()
    assert conversation.startswith("socketio:")
    assert web_conversation(web_pass) == conversation
    other, _ = new_web_conversation()
    assert other != conversation
    signature = web_pass.rpartition(".")[2]
    for forged in (
        conversation,  # the id alone, as agents see it
        f"{other}.{signature}",  # another conversation's signature
        f"whatsapp:+33612345678.{signature}",
        web_pass[:-1] + ("0" if web_pass[-1] != "0" else "1"),
        None,
        42,
        web_pass + "x" * 300,
    ):
        assert web_conversation(forged) is None, forged


class FakeAgent:
    """A loaded model that records what it was asked to parse."""

    def __init__(self, fails: bool = False) -> None:
        self.parsed: list[str] = []
        self.fails = fails

    def is_ready(self) -> bool:
        return True

    async def parse_message(self, text: str) -> dict:
        if self.fails:
            raise RuntimeError("TensorFlow is unhappy")
        self.parsed.append(text)
        return {}


def test_a_freshly_loaded_model_is_warmed_up_once() -> None:
    """Both channels start with the server: the model parses its warm-up
    messages once, before anyone's first message has to."""
    agent = FakeAgent()
    asyncio.run(warm_up(agent))
    asyncio.run(warm_up(agent))
    assert agent.parsed == list(WARM_UP_TEXTS)
    # A new model (relais publish) is warmed up again.
    another = FakeAgent()
    asyncio.run(warm_up(another))
    assert another.parsed == list(WARM_UP_TEXTS)


def test_a_failed_warm_up_does_not_stop_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    asyncio.run(warm_up(FakeAgent(fails=True)))
    assert "first answer will be slow" in caplog.text


def test_a_resumed_web_chat_shows_the_conversation_as_it_was_seen() -> None:
    buttons = [
        {"title": "Lots concernés", "payload": "/faq/lot_numbers"},
        {"title": "Remboursement", "payload": "/faq/refund"},
    ]
    agent_data = {"custom": {"data": {"relais_agent": "Camille"}}}
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": "les lots ?"},
        {"event": "bot", "text": "Vouliez-vous dire :", "data": {"buttons": buttons}},
        {"event": "user", "text": "/faq/refund"},  # a button pressed
        {"event": "bot", "text": "Rapportez le pot.", "data": {}},
        {"event": "slot", "name": "language", "value": "fr"},
        {"event": "pause"},
        {"event": "bot", "text": "Je vérifie votre lot.", "data": agent_data},
    ]
    shown = history(events)
    assert [(m["who"], m["text"]) for m in shown] == [
        ("user", "les lots ?"),
        ("bot", "Vouliez-vous dire :"),
        ("user", "Remboursement"),
        ("bot", "Rapportez le pot."),
        ("bot", "Je vérifie votre lot."),
    ]
    assert [b["title"] for b in shown[1]["buttons"]] == [
        "Lots concernés",
        "Remboursement",
    ]
    assert shown[-1]["agent"] == "Camille" and "agent" not in shown[3]
