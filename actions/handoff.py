"""Handing a conversation to a human.

The request-for-a-human rule, the second-miss rule and every sensitive message
(bot.handoff.triggers, via the EscalationDetector) run this one action. It puts
the conversation in the queue, tells the person where they stand, and pauses
the bot: while paused Rasa records every message but predicts nothing, until
the agent's `relais queue close` resumes the conversation.

One exception: a high-priority (not urgent) message the bot could answer with
an FAQ it was sure of ("je voudrais faire une demande de remboursement" from
someone who is also a journalist, or angry) gets its answer and a ticket, and
the bot stays with the person until an agent speaks (bot.handoff.agent.reply
pauses it then). A trigger that fired wrongly must never leave someone
without answers to their next question.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import conversation_language, utter
from bot.faq import Topic
from bot.faq.answers import send_answer
from bot.faq.live import current_pack
from bot.faq.statement import statement_for
from bot.handoff.hours import TeamHours, say_wait, say_when
from bot.handoff.models import utcnow
from bot.handoff.queue import HandoffRequest
from bot.handoff.service import HandoffOutcome, request_handoff
from bot.handoff.switches import current_switches
from bot.handoff.triggers import (
    ASKED_FOR_HUMAN,
    EMERGENCY_RESPONSES,
    MISUNDERSTOOD,
    NORMAL,
    URGENT,
)
from bot.settings import Settings, get_settings

# Turns copied into the ticket so the agent sees the context at once.
TRANSCRIPT_TURNS = 12


def _transcript(tracker: Tracker) -> list[dict[str, Any]]:
    turns = [
        {
            "role": "user" if event["event"] == "user" else "bot",
            "text": event.get("text") or "",
            "at": event.get("timestamp"),
        }
        for event in tracker.events
        if event.get("event") in ("user", "bot") and event.get("text")
    ]
    return turns[-TRANSCRIPT_TURNS:]


def _sure_faq_topic(tracker: Tracker, pack: dict[str, Topic]) -> Topic | None:
    """The FAQ the message was confidently about, when a trigger escalated it."""
    escalation = (tracker.latest_message or {}).get("escalation") or {}
    topic = pack.get(str(escalation.get("faq_topic") or ""))
    return topic if topic is not None and topic.enabled else None


def handoff_request(tracker: Tracker) -> HandoffRequest:
    """What the queue needs to know, read from the tracker."""
    latest = tracker.latest_message or {}
    escalation = latest.get("escalation") or {}
    intent = (latest.get("intent") or {}).get("name")
    if escalation.get("reason"):
        reason, priority = str(escalation["reason"]), str(escalation["priority"])
    elif intent == "nlu_fallback":
        reason, priority = MISUNDERSTOOD, NORMAL
    else:
        reason, priority = ASKED_FOR_HUMAN, NORMAL
    return HandoffRequest(
        conversation_id=tracker.sender_id,
        channel=tracker.get_latest_input_channel() or "unknown",
        language=conversation_language(tracker),
        reason=reason,
        priority=priority,
        last_message=str(latest.get("text") or ""),
        transcript=_transcript(tracker),
    )


def tell(
    dispatcher: CollectingDispatcher,
    outcome: HandoffOutcome,
    settings: Settings,
    language: str,
) -> None:
    """The one message that says where the person stands."""
    if not outcome.queued:
        response = (
            "utter_handoff_queue_down" if outcome.kept else "utter_handoff_contact"
        )
        utter(dispatcher, response, language)
    elif not outcome.team_is_in and outcome.team_back_at is not None:
        dispatcher.utter_message(
            response="utter_handoff_after_hours",
            place=outcome.place,
            back=say_when(outcome.team_back_at, utcnow(), language),
            team_hours=TeamHours.from_settings(settings).describe(),
        )
    elif outcome.wait is not None:
        dispatcher.utter_message(
            response="utter_handoff_queued",
            place=outcome.place,
            wait=say_wait(outcome.wait, language),
        )
    else:
        dispatcher.utter_message(
            response="utter_handoff_queued_no_estimate", place=outcome.place
        )


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
        request = handoff_request(tracker)
        # Safety first: emergency numbers go out before anything can fail.
        if request.reason in EMERGENCY_RESPONSES:
            dispatcher.utter_message(
                response=EMERGENCY_RESPONSES[request.reason],
                guidance=settings.profile.emergency(request.reason, request.language),
            )
        topic = _sure_faq_topic(tracker, current_pack(settings))
        stays = topic is not None and request.priority != URGENT
        if request.reason == "anger":
            # Only promise a person takes over when the bot steps back.
            dispatcher.utter_message(
                response="utter_empathy" if stays else "utter_handoff_empathy"
            )
        if topic is not None:
            send_answer(
                dispatcher, settings, topic, request.language, tracker.sender_id
            )
        if stays:
            return flag_for_team(dispatcher, settings, request)
        return hand_over(dispatcher, settings, request)


def flag_for_team(
    dispatcher: CollectingDispatcher, settings: Settings, request: HandoffRequest
) -> list[dict[str, Any]]:
    """Opens a ticket for a sensitive message the bot has answered; no pause.

    The person is told the team will see it and can go on asking the bot.
    With the `queue-closed` switch on, the answer is all they get.
    """
    events: list[dict[str, Any]] = [SlotSet("asked_to_clarify", False)]
    if current_switches(settings.database_url).queue_closed:
        return events
    outcome = request_handoff(request, settings)
    if outcome.queued or outcome.kept:
        dispatcher.utter_message(response="utter_handoff_flagged")
    return events


def hand_over(
    dispatcher: CollectingDispatcher, settings: Settings, request: HandoffRequest
) -> list[dict[str, Any]]:
    """Queues the conversation and pauses the bot, unless the queue is closed.

    With the `queue-closed` switch on, the person gets the contact details and
    the official statement instead, and the bot stays with them.
    """
    events: list[dict[str, Any]] = [SlotSet("asked_to_clarify", False)]
    if current_switches(settings.database_url).queue_closed:
        utter(dispatcher, "utter_handoff_contact", request.language)
        statement = statement_for(settings, request.language)
        if statement:
            dispatcher.utter_message(text=statement)
        return events
    outcome = request_handoff(request, settings)
    tell(dispatcher, outcome, settings, request.language)
    if outcome.queued or outcome.kept:
        events.append(ConversationPaused())
    return events
