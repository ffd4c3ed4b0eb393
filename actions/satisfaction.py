"""The person's answer to "did our conversation help you?" after a handoff.

`action_rate` records a button's rating (or one typed: "4/5", "👍") on the
person's latest survey (bot/handoff/satisfaction.py) and invites a comment;
`action_satisfaction_comment` keeps the message that follows as the comment
(data/rules/handoff.yml: only messages that are not a question the assistant
answers nor a request for a person). If the database cannot be reached the
person is thanked all the same: their rating is lost, never their chat.
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
from bot.handoff import satisfaction
from bot.handoff.decision import conversation_language
from bot.settings import get_settings

logger = logging.getLogger(__name__)

AWAITING_COMMENT = "awaiting_comment"


def _rating_given(tracker: Tracker) -> str:
    """The clicked button's value, else the text the person typed."""
    latest = tracker.latest_message or {}
    for entity in latest.get("entities") or []:
        if entity.get("entity") == satisfaction.RATING_ENTITY and entity.get("value"):
            return str(entity["value"])
    return str(latest.get("text") or "")


class ActionRate(Action):
    def name(self) -> str:
        return "action_rate"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        language = conversation_language(tracker)
        try:
            factory = get_session_factory(get_settings().database_url)
            with factory.begin() as session:
                asked = satisfaction.latest(
                    session=session, conversation_id=tracker.sender_id
                )
                rated = asked is not None and (
                    satisfaction.rate_survey(asked, _rating_given(tracker)) is not None
                )
        except SQLAlchemyError as error:
            logger.error("Rating from %s not recorded: %s", tracker.sender_id, error)
            utter(dispatcher, "utter_thanks", language)
            return [SlotSet(AWAITING_COMMENT, False)]
        if not rated:
            # Nothing to rate, or no rating read ("5 ou 4 sur 5").
            response = "utter_satisfaction_closed" if asked is None else "utter_default"
            utter(dispatcher, response, language)
            return [SlotSet(AWAITING_COMMENT, False)]
        utter(dispatcher, "utter_satisfaction_rated", language)
        return [SlotSet(AWAITING_COMMENT, True)]


class ActionSatisfactionComment(Action):
    def name(self) -> str:
        return "action_satisfaction_comment"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        text = str((tracker.latest_message or {}).get("text") or "")
        try:
            factory = get_session_factory(get_settings().database_url)
            with factory.begin() as session:
                satisfaction.add_comment(
                    session=session, conversation_id=tracker.sender_id, text=text
                )
        except SQLAlchemyError as error:
            logger.error("Comment from %s not recorded: %s", tracker.sender_id, error)
        utter(dispatcher, "utter_satisfaction_comment", conversation_language(tracker))
        return [SlotSet(AWAITING_COMMENT, False)]
