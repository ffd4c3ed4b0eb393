"""Handing a conversation to a human: `action_handoff`.

The request-for-a-human rule, the second-miss rule and every sensitive message
(bot.nlu.triggers, via the EscalationDetector) run this one action. What
it does — emergency guidance first, the queue, the pause, the crisis switches,
the answer kept for a false trigger — is decided in bot/handoff/decision.py,
which the degraded path (bot/degraded.py) calls too.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.faq import Topic
from bot.faq.live import current_pack
from bot.handoff.decision import hand_off, handoff_request
from bot.settings import get_settings


def sure_faq_topic(tracker: Tracker, pack: dict[str, Topic]) -> Topic | None:
    """The FAQ the message was confidently about, when a trigger escalated it."""
    escalation = (tracker.latest_message or {}).get("escalation") or {}
    topic = pack.get(str(escalation.get("faq_topic") or ""))
    return topic if topic is not None and topic.enabled else None


class ActionHandoff(Action):
    """Queues the conversation for a human and pauses the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        topic = sure_faq_topic(tracker, current_pack(settings))
        return hand_off(dispatcher, settings, handoff_request(tracker), topic)
