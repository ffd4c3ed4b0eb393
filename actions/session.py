"""Starting a conversation session: the holding statement, and open handoffs.

A new session (after `session_expiration_time` of silence) resets Rasa's
pause. A person still waiting for a human, or talking with one, must not get
bot answers again: if the conversation was paused and still has an open
ticket, the new session starts paused too. (A conversation the bot stayed
with after a sensitive message it could answer, actions/handoff.py, has an
open ticket but was not paused: it stays with the bot.) Otherwise, while the
company has an official statement out, the session opens with it.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_session_factory
from bot.faq.answers import send_statement
from bot.handoff.decision import conversation_language
from bot.handoff.queue import open_ticket_for
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# A comment after a rating is awaited within one session only
# (actions/satisfaction.py).
NOT_CARRIED_OVER = ("session_started_metadata", "awaiting_comment")


def has_open_ticket(conversation_id: str) -> bool:
    """True when a human holds or will take this conversation."""
    try:
        factory = get_session_factory(get_settings().database_url)
        with factory.begin() as session:
            ticket = open_ticket_for(session=session, conversation_id=conversation_id)
            return ticket is not None
    except SQLAlchemyError:
        # The bot answering is better than a silent conversation nobody owns.
        logger.exception("Could not check the handoff queue for %s", conversation_id)
        return False


class ActionSessionStart(Action):
    """Rasa's session start, carrying slots over, paused if a human has it."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        # domain.yml: carry_over_slots_to_new_session: true
        events += [
            SlotSet(name, value)
            for name, value in tracker.current_slot_values().items()
            if value is not None and name not in NOT_CARRIED_OVER
        ]
        events.append(ActionExecuted("action_listen"))
        if tracker.is_paused() and has_open_ticket(tracker.sender_id):
            events.append(ConversationPaused())
        else:
            send_statement(
                dispatcher, get_settings(), conversation_language(tracker),
                tracker.sender_id,
            )  # fmt: skip
        return events
