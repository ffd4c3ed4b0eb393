"""Sending an FAQ answer or the holding statement: the text as it is now,
recorded in the audit trail."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_session_factory
from bot.faq.audit import record_answer
from bot.faq.live import version
from bot.faq.pack import Topic
from bot.faq.statement import STATEMENT_TOPIC, statement_for
from bot.settings import Settings

logger = logging.getLogger(__name__)


def answer_text(topic: Topic, language: str) -> tuple[str, str]:
    """The answer in `language` (French if missing) and the language used."""
    if topic.answers.get(language):
        return topic.answers[language], language
    return topic.answers.get("fr", ""), "fr"


# The button under an answer when the profile offers it (updates_button).
UPDATES_BUTTON = {"fr": "Me prévenir", "en": "Keep me posted"}


def updates_button(topic: Topic, language: str) -> dict[str, str]:
    """Subscribes the person to news on `topic` (actions/subscriptions.py)."""
    payload = "/subscribe" + json.dumps({"faq_topic": topic.key}, separators=(",", ":"))
    return {
        "title": UPDATES_BUTTON.get(language, UPDATES_BUTTON["fr"]),
        "payload": payload,
    }


def send_answer(
    dispatcher: Any, settings: Settings, topic: Topic, language: str, conversation: str
) -> None:
    """Sends the topic's current answer and records which version went out.

    The audit row never delays nor blocks the answer: if the database is
    unreachable the answer still goes out and the miss is logged.
    """
    text, used = answer_text(topic, language)
    if settings.profile.updates_button:
        dispatcher.utter_message(text=text, buttons=[updates_button(topic, used)])
    else:
        dispatcher.utter_message(text=text)
    _record(settings, conversation, topic.key, used, text)


def send_statement(
    dispatcher: Any, settings: Settings, language: str, conversation: str
) -> None:
    """Sends the active holding statement, if any, and records which version
    went out (a correction can reach those who got an earlier one)."""
    text = statement_for(settings, language)
    if not text:
        return
    dispatcher.utter_message(text=text)
    used = "en" if language == "en" else "fr"
    _record(settings, conversation, STATEMENT_TOPIC, used, text)


def _record(
    settings: Settings, conversation: str, topic: str, language: str, text: str
) -> None:
    """The audit row; it never delays nor blocks what was sent."""
    try:
        with get_session_factory(settings.database_url).begin() as session:
            record_answer(
                session=session,
                conversation_id=conversation,
                topic=topic,
                language=language,
                version=version(text),
                text=text,
            )
    except SQLAlchemyError as error:
        logger.error("Answer %s sent but not recorded: %s", topic, error)
