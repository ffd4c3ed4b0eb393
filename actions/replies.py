"""What the bot says in its own words: in the person's language, with the
crisis profile's brand, scope and contacts filled in.

`domain.yml` holds the sentences with placeholders ({brand}, {about},
{covers}, {example}, {phone}, {email}, {hours}); `utter` fills them from the
pack's profile.yml (bot/profile.py), so no response names a brand or a
crisis. The responses rules send directly (greeting, "are you a bot?", out of
scope) go through the small actions below for the same reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.handoff.decision import conversation_language
from bot.settings import get_settings


def utter(
    dispatcher: CollectingDispatcher, response: str, language: str, **values: Any
) -> None:
    """Sends `response` with the profile's values (and `values`) filled in."""
    placeholders: dict[str, Any] = get_settings().profile.placeholders(language)
    dispatcher.utter_message(response=response, **{**placeholders, **values})


class ProfileResponse(Action, ABC):
    """A response a rule sends, filled with the crisis profile's values."""

    @property
    @abstractmethod
    def response(self) -> str:
        """The response's name in domain.yml."""

    def name(self) -> str:
        return "action_" + self.response.removeprefix("utter_")

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        utter(dispatcher, self.response, conversation_language(tracker))
        return []


class ActionGreet(ProfileResponse):
    response = "utter_greet"


class ActionBotChallenge(ProfileResponse):
    response = "utter_bot_challenge"


class ActionOutOfScope(ProfileResponse):
    response = "utter_out_of_scope"
