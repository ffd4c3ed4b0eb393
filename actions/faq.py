"""Answering the FAQ and asking "did you mean" when unsure."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.faq import load_pack
from bot.faq.buttons import clarification_buttons
from bot.settings import get_settings


def _language(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return language if language in ("fr", "en") else "fr"


def _chosen_topic(tracker: Tracker) -> str | None:
    """The topic of a clicked button, else the ResponseSelector's choice."""
    latest = tracker.latest_message or {}
    for entity in latest.get("entities") or []:
        if entity.get("entity") == "faq_topic" and entity.get("value"):
            return str(entity["value"])
    selected = ((latest.get("response_selector") or {}).get("faq") or {}).get(
        "response"
    ) or {}
    key = str(selected.get("intent_response_key") or "")
    return key.split("/", 1)[1] if key.startswith("faq/") else None


class ActionAnswerFaq(Action):
    """Sends the answer of the FAQ topic the user asked about, in their language."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        topic = _chosen_topic(tracker)
        if topic is None or topic not in load_pack(get_settings().faq_dir):
            # A stale or hand-typed button payload: ask again rather than guess.
            dispatcher.utter_message(response="utter_rephrase")
            return []
        dispatcher.utter_message(response=f"utter_faq/{topic}")
        return []


class ActionClarify(Action):
    """Says the assistant is unsure and offers the closest FAQ topics as buttons."""

    def name(self) -> str:
        return "action_clarify"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        gate = (tracker.latest_message or {}).get("gate") or {}
        reason = gate.get("reason")
        candidates = list(gate.get("candidates") or [])
        if reason == "foreign_language":
            dispatcher.utter_message(response="utter_unsupported_language")
        elif reason == "too_long":
            dispatcher.utter_message(response="utter_too_long")
        elif reason == "no_words" or not candidates:
            dispatcher.utter_message(response="utter_rephrase")
        else:
            pack = load_pack(get_settings().faq_dir)
            dispatcher.utter_message(
                response="utter_clarify",
                buttons=clarification_buttons(candidates, pack, _language(tracker)),
            )
        # Whatever the reason, this was a miss: the next one goes to a human.
        return [SlotSet("asked_to_clarify", True)]
