"""Crisis switches: all to humans, queue closed; and the console shows them."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq, ActionClarify
from actions.handoff import ActionHandoff
from bot.cli import main
from bot.db import get_session_factory
from bot.faq import statement as statements
from bot.handoff import queue
from bot.settings import get_settings
from tests.conftest import load_tracker

PAUSE = {"event": "pause", "timestamp": None}


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    return database_url


async def run(action, tracker) -> tuple[list[dict], list[dict]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events


def switch(name: str, state: str) -> None:
    assert main(["switch", name, state, "--agent", "camille"]) == 0


def open_reasons(url: str) -> list[str]:
    with get_session_factory(url).begin() as session:
        return [t.reason for t in queue.list_open(session=session)]


async def test_all_to_humans_queues_faq_questions_and_unsure_ones(
    database: str,
) -> None:
    switch("all-to-humans", "on")
    messages, events = await run(ActionAnswerFaq(), load_tracker("faq_question_fr"))
    assert [m["response"] for m in messages] == ["utter_handoff_queued_no_estimate"]
    assert events[-1] == PAUSE
    messages, _ = await run(ActionClarify(), load_tracker("unsure_en"))
    assert [m["response"] for m in messages] == ["utter_handoff_queued_no_estimate"]
    assert open_reasons(database) == ["all_to_humans", "all_to_humans"]
    switch("all-to-humans", "off")
    messages, _ = await run(
        ActionAnswerFaq(), load_tracker("faq_question_fr", sender_id="x")
    )
    assert messages[0]["text"].startswith("Les lots concernés")


async def test_queue_closed_gives_contact_details_and_the_statement(
    database: str,
) -> None:
    with get_session_factory(database).begin() as session:
        statements.publish_statement(
            session=session, text_fr="Texte officiel.", text_en="Official text.",
            author="camille",
        )  # fmt: skip
    switch("queue-closed", "on")
    messages, events = await run(ActionHandoff(), load_tracker("handoff_fr"))
    assert messages[0]["response"] == "utter_handoff_contact"
    assert messages[0]["phone"] == "0 800 35 35 35"
    assert messages[1]["text"].endswith("Texte officiel.")
    assert PAUSE not in events  # the bot stays with the person
    assert open_reasons(database) == []
    # Emergency guidance still comes first.
    escalation = {"reason": "health", "priority": "urgent", "evidence": "vomis"}
    urgent = load_tracker("handoff_fr", latest_message={"escalation": escalation})
    messages, _ = await run(ActionHandoff(), urgent)
    assert [m["response"] for m in messages][:2] == [
        "utter_emergency_health",
        "utter_handoff_contact",
    ]


def test_switches_from_the_command_line(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["switch", "show"]) == 0
    assert capsys.readouterr().out == "all-to-humans: off\nqueue-closed:  off\n"
    switch("queue-closed", "on")
    assert "queue-closed:  ON" in capsys.readouterr().out
    assert main(["switch", "queue-closed"]) == 2


def test_the_console_shows_the_switches(database: str) -> None:
    from bot.console.app import queue_snapshot

    assert queue_snapshot(get_settings())["queue_closed"] is False
    switch("queue-closed", "on")
    snapshot = queue_snapshot(get_settings())
    assert (snapshot["queue_closed"], snapshot["all_to_humans"]) == (True, False)
