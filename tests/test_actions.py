"""Custom actions, driven by tracker fixtures: what the user would receive."""

from __future__ import annotations

import dataclasses
import json

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq, ActionClarify
from bot.faq import load_pack
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import load_tracker

PACK = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")


async def run(action, tracker) -> tuple[list[dict], list[dict]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain={})
    return dispatcher.messages, events


async def test_answers_the_topic_the_response_selector_chose() -> None:
    messages, events = await run(ActionAnswerFaq(), load_tracker("faq_question_fr"))
    # The answer goes out even though this test's database has no tables:
    # the audit trail never blocks an answer.
    assert [m["text"] for m in messages] == [PACK["lot_numbers"].answers["fr"]]
    assert events == []


async def test_a_clicked_button_answers_its_topic() -> None:
    tracker = load_tracker("button_click")
    messages, _ = await run(ActionAnswerFaq(), tracker)
    language = tracker.get_slot("language")
    assert [m["text"] for m in messages] == [PACK["symptoms"].answers[language]]


async def test_an_unknown_topic_asks_to_rephrase_instead_of_failing() -> None:
    tracker = load_tracker(
        "button_click",
        latest_message={
            "entities": [{"entity": "faq_topic", "value": "no_such_topic"}]
        },
    )
    messages, _ = await run(ActionAnswerFaq(), tracker)
    assert [m["response"] for m in messages] == ["utter_rephrase"]


async def test_clarify_offers_the_best_topics_in_english() -> None:
    messages, events = await run(ActionClarify(), load_tracker("unsure_en"))
    assert len(messages) == 1
    assert messages[0]["response"] == "utter_clarify"
    titles = [button["title"] for button in messages[0]["buttons"]]
    assert titles == [
        "What is listeria?",
        "Symptoms and when to see a doctor",
        "I ate the product",
        "Something else: talk to an agent",
    ]
    payload = messages[0]["buttons"][0]["payload"]
    assert payload.startswith("/faq")
    assert json.loads(payload[len("/faq") :]) == {"faq_topic": "what_is_listeria"}
    assert messages[0]["buttons"][-1]["payload"] == "/request_human"
    assert events == [
        {"event": "slot", "timestamp": None, "name": "asked_to_clarify", "value": True}
    ]


async def test_clarify_titles_follow_the_conversation_language() -> None:
    tracker = load_tracker("unsure_en", slots={"language": "fr"})
    messages, _ = await run(ActionClarify(), tracker)
    titles = [button["title"] for button in messages[0]["buttons"]]
    assert titles[0] == "Qu'est-ce que la listeria ?"
    assert titles[-1] == "Autre chose : parler à un conseiller"


async def test_clarify_handles_each_kind_of_unusable_message() -> None:
    expected = {
        "foreign_language": "utter_unsupported_language",
        "no_words": "utter_rephrase",
        "too_long": "utter_too_long",
    }
    for reason, response in expected.items():
        tracker = load_tracker(
            "unsure_en",
            latest_message={
                "gate": {"answer": False, "reason": reason, "candidates": []}
            },
        )
        messages, events = await run(ActionClarify(), tracker)
        assert [m["response"] for m in messages] == [response], reason
        assert events[0]["name"] == "asked_to_clarify"


async def test_a_brand_can_offer_keep_me_posted_under_every_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """profile.yml `updates_button: true`: each answer carries a button that
    subscribes the person to news on its topic."""
    settings = get_settings()
    offering = dataclasses.replace(
        settings, profile=dataclasses.replace(settings.profile, updates_button=True)
    )
    monkeypatch.setattr("actions.faq.get_settings", lambda: offering)
    (message,), _ = await run(ActionAnswerFaq(), load_tracker("faq_question_fr"))
    assert message["text"] == PACK["lot_numbers"].answers["fr"]
    assert message["buttons"] == [
        {"title": "Me prévenir", "payload": '/subscribe{"faq_topic":"lot_numbers"}'}
    ]
    # Off by default: the answer alone.
    monkeypatch.setattr("actions.faq.get_settings", lambda: settings)
    (message,), _ = await run(ActionAnswerFaq(), load_tracker("faq_question_fr"))
    assert not message["buttons"]
