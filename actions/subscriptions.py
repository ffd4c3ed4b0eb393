"""Keep me informed: `action_subscribe` and `action_unsubscribe`.

"prévenez-moi" (or the button) subscribes the person to the topic they were
last answered on, else to the whole crisis; a button with `faq_topic` names
the topic ("*": the whole crisis). "stop" ends every subscription of theirs
(bot/corrections/subscriptions.py). If the database cannot be reached the
person is told so, and nothing is half-recorded.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.faq import clicked_topic
from actions.replies import utter
from bot.corrections import subscriptions
from bot.db import get_session_factory
from bot.faq.audit import AnswerSent
from bot.faq.live import current_pack
from bot.handoff.decision import conversation_language
from bot.settings import get_settings

logger = logging.getLogger(__name__)

WHOLE_CRISIS_PAYLOAD = "/subscribe" + json.dumps({"faq_topic": "*"})
BUTTONS = {
    "fr": {"all": "Toutes les nouvelles", "stop": "Ne plus être prévenu"},
    "en": {"all": "All the news", "stop": "Stop the updates"},
}


def _last_answered(session: Session, conversation: str) -> str | None:
    return session.execute(
        select(AnswerSent.topic)
        .where(AnswerSent.conversation_id == conversation)
        .order_by(AnswerSent.id.desc())
        .limit(1)
    ).scalar_one_or_none()


class ActionSubscribe(Action):
    def name(self) -> str:
        return "action_subscribe"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        language = conversation_language(tracker)
        pack = current_pack(settings)
        named = clicked_topic(tracker)
        words = BUTTONS[language]
        try:
            with get_session_factory(settings.database_url).begin() as session:
                if named == "*":
                    topic = subscriptions.WHOLE_CRISIS
                else:
                    key = named or _last_answered(session, tracker.sender_id)
                    known = key in pack and pack[key].enabled
                    topic = key if key and known else subscriptions.WHOLE_CRISIS
                subscriptions.subscribe(
                    session=session, conversation_id=tracker.sender_id, topic=topic,
                    channel=tracker.get_latest_input_channel() or "",
                    language=language,
                )  # fmt: skip
        except SQLAlchemyError as error:
            logger.error("Subscription not recorded: %s", error)
            utter(dispatcher, "utter_subscription_unavailable", language)
            return []
        stop = {"title": words["stop"], "payload": "/unsubscribe"}
        everything = {"title": words["all"], "payload": WHOLE_CRISIS_PAYLOAD}
        if topic == subscriptions.WHOLE_CRISIS:
            utter(dispatcher, "utter_subscribed_all", language, buttons=[stop])
        else:
            utter(
                dispatcher, "utter_subscribed_topic", language,
                topic=pack[topic].title(language), buttons=[everything, stop],
            )  # fmt: skip
        return []


class ActionUnsubscribe(Action):
    def name(self) -> str:
        return "action_unsubscribe"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        language = conversation_language(tracker)
        try:
            with get_session_factory(settings.database_url).begin() as session:
                ended = subscriptions.stop(
                    session=session, conversation_id=tracker.sender_id,
                    channel=tracker.get_latest_input_channel() or "",
                    language=language,
                )  # fmt: skip
        except SQLAlchemyError as error:
            logger.error("Stop not recorded: %s", error)
            utter(dispatcher, "utter_subscription_unavailable", language)
            return []
        utter(
            dispatcher,
            "utter_unsubscribed" if ended else "utter_not_subscribed",
            language,
        )
        return []
