"""Handing a conversation to a human.

Until the handoff queue lands this gives the contact details from settings;
the request-for-a-human and second-miss paths already call this one action.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.settings import get_settings


class ActionHandoff(Action):
    """Tells the user how to reach a person from the team."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        dispatcher.utter_message(
            response="utter_handoff_contact",
            phone=settings.contact_phone,
            email=settings.contact_email,
            hours=settings.contact_hours,
        )
        # A fresh start: the next misunderstanding asks "did you mean" again.
        return [SlotSet("asked_to_clarify", False)]
