"""Graceful overload (bot/overload.py, bot/channels/guard.py's guard).

The assistant is played by a handler that answers only when the test lets
it, so "the process is busy" is a fact of the test, not of the machine: a
person whose message cannot be answered in time gets the holding reply, the
message is still handled afterwards, and urgent messages go first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels import guard as channels
from bot.db import get_session_factory, upgrade
from bot.faq import statement as statements
from bot.overload import (
    FRESH_RANK,
    HELD_KEY,
    Admission,
    Place,
    StatementCache,
    guess_language,
    looks_urgent,
)
from bot.settings import get_settings


@pytest.fixture
def busy_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """One message at a time; a holding reply after a tenth of a second."""
    database_url = f"sqlite:///{tmp_path / 'relais.db'}"
    upgrade(database_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RELAIS_MAX_IN_PROGRESS", "1")
    monkeypatch.setenv("RELAIS_HOLDING_REPLY_SECONDS", "0.1")
    get_settings.cache_clear()
    monkeypatch.setattr(channels, "_admission", None)
    monkeypatch.setattr(channels, "STATEMENT", StatementCache())
    yield
    get_settings.cache_clear()


class Assistant:
    """Answers "Réponse à <text>" once `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.handled: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        await self.release.wait()
        self.handled.append(message.text or "")
        await message.output_channel.send_text_message(
            message.sender_id, f"Réponse à {message.text}"
        )


def _texts(channel: CollectingOutputChannel) -> list[str]:
    return [str(m.get("text")) for m in channel.messages]


def _message(
    text: str, sender: str = "ana"
) -> tuple[UserMessage, CollectingOutputChannel]:
    channel = CollectingOutputChannel()
    return UserMessage(text, channel, sender), channel


async def test_an_answer_in_time_is_passed_on_unchanged(busy_process: None) -> None:
    assistant = Assistant()
    assistant.release.set()
    message, channel = _message("Quels lots sont concernés ?")
    await channels.Guard().wrap(assistant)(message)
    assert _texts(channel) == ["Réponse à Quels lots sont concernés ?"]


async def test_rest_a_person_kept_waiting_is_told_and_their_message_still_handled(
    busy_process: None,
) -> None:
    assistant = Assistant()
    message, channel = _message("Quels lots sont concernés ?")
    await channels.Guard(answer_follows=False).wrap(assistant)(message)

    # The request is answered now, in French, with the team's contacts.
    profile = get_settings().profile
    [holding] = _texts(channel)
    assert "bien reçu" in holding and "reposez votre question" in holding
    assert profile.placeholders("fr")["phone"] in holding
    assert assistant.handled == []
    assert message.metadata[HELD_KEY] >= 0.1  # waited its patience, then told

    assistant.release.set()
    await asyncio.gather(*channels._held)
    assert assistant.handled == ["Quels lots sont concernés ?"]
    # One request, one response: the late answer is in the conversation,
    # not appended to a response already sent.
    assert len(channel.messages) == 1


async def test_socketio_the_answer_follows_the_holding_reply_with_the_statement(
    busy_process: None,
) -> None:
    with get_session_factory(get_settings().database_url).begin() as session:
        statements.publish_statement(
            session=session,
            text_fr="Nous rappelons les lots L26301 à L26315.",
            text_en="We are recalling lots L26301 to L26315.",
            author="editor",
        )
    assistant = Assistant()
    message, channel = _message("What products are recalled?", sender="bob")
    await channels.Guard(answer_follows=True).wrap(assistant)(message)
    holding, statement = _texts(channel)
    assert "many people are writing" in holding and "in a moment" in holding
    assert "We are recalling lots L26301 to L26315." in statement

    assistant.release.set()
    await asyncio.gather(*channels._held)
    await asyncio.sleep(0)  # the answer is passed on once the work is done
    assert _texts(channel)[2:] == ["Réponse à What products are recalled?"]


async def test_urgent_messages_go_to_the_front_of_the_line(busy_process: None) -> None:
    assistant = Assistant()
    guard = channels.Guard()
    first, _ = _message("Bonjour", sender="a")
    question, _ = _message("Où est le numéro de lot ?", sender="b")
    urgent, urgent_channel = _message("mon fils vomit depuis ce matin", sender="c")
    handling = [
        asyncio.create_task(guard.wrap(assistant)(m)) for m in (first, question, urgent)
    ]
    await asyncio.gather(*handling)  # all three held: the first blocks the line
    assert "bien reçu" in _texts(urgent_channel)[0]
    assistant.release.set()
    await asyncio.gather(*channels._held)
    assert assistant.handled == [
        "Bonjour",
        "mon fils vomit depuis ce matin",
        "Où est le numéro de lot ?",
    ]


async def test_rest_messages_already_given_a_holding_reply_let_fresh_ones_first(
    busy_process: None,
) -> None:
    """Their person is no longer waiting on REST: under a long overload, the
    box answers those who still are, and handles the others after."""
    assistant = Assistant()
    guard = channels.Guard(answer_follows=False)
    first, _ = _message("Bonjour", sender="a")
    held, _ = _message("Où est le numéro de lot ?", sender="b")
    busy = asyncio.create_task(guard.wrap(assistant)(first))
    while channels.admission().in_progress == 0:
        await asyncio.sleep(0)
    await guard.wrap(assistant)(held)  # returns with its holding reply
    fresh, fresh_channel = _message("Comment être remboursé ?", sender="c")
    answering = asyncio.create_task(guard.wrap(assistant)(fresh))
    while channels.admission().waiting < 2:
        await asyncio.sleep(0)
    assistant.release.set()
    await asyncio.gather(busy, answering, *channels._held)
    assert assistant.handled == [
        "Bonjour",
        "Comment être remboursé ?",
        "Où est le numéro de lot ?",
    ]
    assert _texts(fresh_channel) == ["Réponse à Comment être remboursé ?"]


async def _one_answering_one_waiting(
    assistant: Assistant, guard: channels.Guard
) -> tuple[Admission, asyncio.Task[None], asyncio.Task[None]]:
    """One message being answered (the process takes one at a time) and one
    waiting behind it: the line, and the two messages' tasks."""
    line = channels.admission()
    busy = asyncio.create_task(guard.wrap(assistant)(_message("Bonjour", "a")[0]))
    while line.in_progress == 0:
        await asyncio.sleep(0)
    second = asyncio.create_task(guard.wrap(assistant)(_message("Lots ?", "b")[0]))
    while line.waiting == 0:
        await asyncio.sleep(0)
    return line, busy, second


async def test_when_the_line_is_longer_than_anyones_patience_people_are_told_at_once(
    busy_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_HOLDING_REPLY_SECONDS", "3")
    get_settings.cache_clear()
    assistant, guard = Assistant(), channels.Guard()
    line, busy, second = await _one_answering_one_waiting(assistant, guard)
    # Two messages finished in the last nine seconds: the one waiting has
    # about 4.5 s to go, more than the 3 s a person is kept waiting.
    now = time.monotonic()
    line._served.extend([(now - 9.0, 0.05), (now - 8.9, 0.05)])

    third, channel = _message("Comment être remboursé ?", "c")
    await guard.wrap(assistant)(third)
    assert "bien reçu" in _texts(channel)[0]
    assert not second.done()  # still within its own three seconds

    assistant.release.set()
    await asyncio.gather(busy, second)
    await asyncio.gather(*channels._held)
    handled = sorted(assistant.handled)
    assert handled == ["Bonjour", "Comment être remboursé ?", "Lots ?"]


async def test_nobody_is_told_to_wait_when_their_answer_will_come_in_time(
    busy_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 29: the holding reply is for a person who would really wait
    longer than the limit, from the pace of the line and the measured time a
    message takes, not before."""
    monkeypatch.setenv("RELAIS_HOLDING_REPLY_SECONDS", "3")
    get_settings.cache_clear()
    assistant, guard = Assistant(), channels.Guard()
    line, busy, second = await _one_answering_one_waiting(assistant, guard)
    # Two messages finished in the last 3.6 seconds, each in 0.05 s once its
    # turn came: the next person's answer is about 1.85 s away, within the
    # 3 s a person is kept waiting (more than half of it, which was once
    # enough for a holding reply).
    now = time.monotonic()
    line._served.extend([(now - 3.6, 0.05), (now - 1.8, 0.05)])
    assert 1.5 < line.expected_answer(FRESH_RANK) < 3

    third, channel = _message("Comment être remboursé ?", "c")
    answered = asyncio.create_task(guard.wrap(assistant)(third))
    await asyncio.sleep(0.3)
    assistant.release.set()
    await asyncio.gather(busy, second, answered)
    assert _texts(channel) == ["Réponse à Comment être remboursé ?"]


async def test_writing_again_after_a_holding_reply_does_not_jump_the_line(
    busy_process: None,
) -> None:
    """A person who writes again while their held message waits: the new
    message is held at once and waits with the old one, instead of pulling
    it ahead of people still waiting for their first answer."""
    assistant = Assistant()
    guard = channels.Guard(answer_follows=False)
    line = channels.admission()
    busy = asyncio.create_task(guard.wrap(assistant)(_message("Bonjour", "a")[0]))
    while line.in_progress == 0:
        await asyncio.sleep(0)
    await guard.wrap(assistant)(_message("Où est le lot ?", "b")[0])  # held
    waiting = asyncio.create_task(
        guard.wrap(assistant)(_message("Rembourser ?", "c")[0])
    )
    again, channel = _message("Allô ? Où est le lot ?", "b")
    await guard.wrap(assistant)(again)
    assert "bien reçu" in _texts(channel)[0]
    assert not waiting.done()  # told at once, not after its own wait

    assistant.release.set()
    await asyncio.gather(busy, waiting)
    await asyncio.gather(*channels._held)
    assert assistant.handled == [
        "Bonjour",
        "Rembourser ?",
        "Où est le lot ?",
        "Allô ? Où est le lot ?",
    ]


async def test_an_urgent_message_does_not_overtake_its_own_conversation() -> None:
    line = Admission(limit=1)
    order: list[str] = []
    gate = asyncio.Event()

    async def handle(name: str, urgent: bool, key: str) -> None:
        async with line.turn(Place(key, urgent)):
            await gate.wait()
            order.append(name)

    tasks = [asyncio.create_task(handle("busy", False, "x"))]
    await asyncio.sleep(0)
    for name, urgent, key in [
        ("other", False, "y"),
        ("ana 1", False, "ana"),
        ("ana 2, urgent", True, "ana"),
    ]:
        tasks.append(asyncio.create_task(handle(name, urgent, key)))
        await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert order == ["busy", "ana 1", "ana 2, urgent", "other"]


async def test_a_person_who_leaves_the_line_frees_nothing_twice() -> None:
    line = Admission(limit=1)
    gate = asyncio.Event()

    async def handle() -> None:
        async with line.turn(Place("x", urgent=False)):
            await gate.wait()

    busy = asyncio.create_task(handle())
    await asyncio.sleep(0)
    leaving = asyncio.create_task(handle())
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    await busy
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert (line.in_progress, line.waiting) == (0, 0)
    async with line.turn(Place("x", urgent=False)):
        assert line.in_progress == 1


@pytest.mark.parametrize(
    "text",
    [
        "mon fils a vomi toute la nuit",
        "j'ai de la fièvre depuis hier",
        "ma fille est à l'hôpital",
        "my daughter has been sick since lunch",
        "je veux me suicider",
    ],
)
def test_health_and_self_harm_words_look_urgent(text: str) -> None:
    assert looks_urgent(text)


@pytest.mark.parametrize(
    "text",
    ["Quels lots sont concernés ?", "where is the batch number", "remboursement"],
)
def test_ordinary_questions_wait_their_turn(text: str) -> None:
    assert not looks_urgent(text)


def test_the_holding_reply_guesses_the_language_from_common_words() -> None:
    assert guess_language("What products are part of the recall?") == "en"
    assert guess_language("Est-ce que mes yaourts sont concernés ?") == "fr"
    assert guess_language("L26312") == "fr"
