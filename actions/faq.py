"""Answering the FAQ and asking "did you mean" when unsure.

Answers are read from data/faq/ when they are sent (bot.faq.live), so an
edited answer is live at once and a disabled topic stops being answered
without a retrain; every answer sent is recorded with its version. An answer
that resolves a question the bot had declined (a "did you mean" click, a
rephrasing) leaves that question as a suggestion for editors
(bot.faq.suggestions).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.replies import utter
from bot.db import get_session_factory
from bot.faq import suggestions
from bot.faq.answers import send_answer, send_statement
from bot.faq.buttons import clarification_buttons
from bot.faq.live import current_pack
from bot.faq.statement import SITUATION_TOPIC
from bot.handoff.decision import (
    all_to_humans_request,
    conversation_language,
    hand_off,
)
from bot.handoff.switches import current_switches
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def clicked_topic(tracker: Tracker) -> str | None:
    """The topic a clicked button names (`faq_topic`), if that is what came
    in: a "did you mean" topic, or the topic "Me prévenir" subscribes to."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "faq_topic" and entity.get("value"):
            return str(entity["value"])
    return None


def _chosen_topic(tracker: Tracker) -> str | None:
    """The topic of a clicked button, else the ResponseSelector's choice."""
    clicked = clicked_topic(tracker)
    if clicked is not None:
        return clicked
    latest = tracker.latest_message or {}
    selected = ((latest.get("response_selector") or {}).get("faq") or {}).get(
        "response"
    ) or {}
    key = str(selected.get("intent_response_key") or "")
    return key.split("/", 1)[1] if key.startswith("faq/") else None


def all_to_humans(
    dispatcher: CollectingDispatcher, tracker: Tracker, settings: Settings
) -> list[dict[str, Any]]:
    """The `all-to-humans` switch: every question goes to the queue."""
    return hand_off(dispatcher, settings, all_to_humans_request(tracker))


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
        settings = get_settings()
        if current_switches(settings.database_url).all_to_humans:
            return all_to_humans(dispatcher, tracker, settings)
        topic = _chosen_topic(tracker)
        pack = current_pack(settings)
        if topic is None or topic not in pack:
            # A stale or hand-typed button payload: ask again rather than guess.
            utter(dispatcher, "utter_rephrase", conversation_language(tracker))
            return []
        if not pack[topic].enabled:
            # Taken offline by an editor: offer the other likely topics.
            gate = (tracker.latest_message or {}).get("gate") or {}
            others = [t for t in gate.get("candidates") or [] if t != topic]
            dispatcher.utter_message(
                response="utter_clarify",
                buttons=clarification_buttons(
                    others, pack, conversation_language(tracker)
                ),
            )
            return [SlotSet("asked_to_clarify", True)]
        if topic == SITUATION_TOPIC:
            send_statement(dispatcher, settings, conversation_language(tracker),
                           tracker.sender_id)  # fmt: skip
        send_answer(dispatcher, settings, pack[topic], conversation_language(tracker),
                    tracker.sender_id)  # fmt: skip
        learn(tracker, settings, topic)
        return []


def learn(tracker: Tracker, settings: Settings, topic: str) -> None:
    """If this answer resolved a question the bot had declined (a "did you
    mean" click, or a rephrasing), keep that question as a suggestion for
    editors. Never delays nor blocks the answer."""
    learned = suggestions.learned_from(
        tracker.events, clicked=clicked_topic(tracker) is not None
    )
    if learned is None:
        return
    try:
        with get_session_factory(settings.database_url).begin() as session:
            suggestions.record(
                session=session, text=learned.text, topic=topic,
                source=learned.source, language=conversation_language(tracker),
                conversation_id=tracker.sender_id, evidence=learned.evidence,
                similarity=learned.similarity,
            )  # fmt: skip
    except SQLAlchemyError as error:
        logger.error("Suggestion for %s not recorded: %s", topic, error)


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
        settings = get_settings()
        if current_switches(settings.database_url).all_to_humans:
            return all_to_humans(dispatcher, tracker, settings)
        gate = (tracker.latest_message or {}).get("gate") or {}
        reason = gate.get("reason")
        candidates = list(gate.get("candidates") or [])
        language = conversation_language(tracker)
        if reason == "foreign_language":
            utter(dispatcher, "utter_unsupported_language", language)
        elif reason == "too_long":
            utter(dispatcher, "utter_too_long", language)
        elif reason == "no_words" or not candidates:
            utter(dispatcher, "utter_rephrase", language)
        else:
            pack = current_pack(settings)
            dispatcher.utter_message(
                response="utter_clarify",
                buttons=clarification_buttons(
                    candidates, pack, conversation_language(tracker)
                ),
            )
        # Whatever the reason, this was a miss: the next one goes to a human.
        return [SlotSet("asked_to_clarify", True)]
