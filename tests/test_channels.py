"""The length guard in front of the NLU pipeline (bot/channels.py)."""

from __future__ import annotations

import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels import TRUNCATED_KEY, guarded
from bot.nlu.gate import MAX_MESSAGE_LENGTH


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
