"""What happens when a conversation is handed to a human: one decision.

Two paths carry it out: `action_handoff` and the FAQ actions on the action
server (actions/handoff.py, actions/faq.py), and Rasa itself when the action
server does not answer (bot/degraded.py). Both call `hand_off`, so the crisis
switches, the emergency guidance first and the "a false trigger never leaves
a person without the answer the bot was sure of" rule are the same on both.

- Health and self-harm: the profile's emergency guidance goes out first,
  before anything can fail.
- A high-priority (not urgent) message the bot could answer with an FAQ it was
  sure of ("je voudrais faire une demande de remboursement" from someone who
  is also a journalist, or angry) gets its answer and a ticket, and the bot
  stays with the person until an agent speaks (bot.handoff.agent.reply pauses
  it then).
- Anything else is queued and the bot pauses: while paused Rasa records every
  message but predicts nothing, until an agent closes the ticket.
- `queue-closed` on: no ticket; the contact details and the official
  statement instead, and the bot stays. `all-to-humans` on: every question
  is handed over (reason `all_to_humans`), not only the sensitive ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.faq import Topic
from bot.faq.answers import send_answer, send_statement
from bot.handoff.hours import TeamHours, say_wait, say_when
from bot.handoff.models import utcnow
from bot.handoff.queue import HandoffRequest
from bot.handoff.service import HandoffOutcome, request_handoff
from bot.handoff.switches import current_switches
from bot.nlu.triggers import (
    ASKED_FOR_HUMAN,
    EMERGENCY_RESPONSES,
    MISUNDERSTOOD,
    NORMAL,
    URGENT,
)
from bot.settings import Settings

# Turns copied into the ticket so the agent sees the context at once.
TRANSCRIPT_TURNS = 12
ALL_TO_HUMANS_REASON = "all_to_humans"


def conversation_language(tracker: Tracker) -> str:
    """The `language` slot (the last message's language), French by default."""
    language = tracker.get_slot("language")
    return language if language in ("fr", "en") else "fr"


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


def all_to_humans_request(tracker: Tracker) -> HandoffRequest:
    """The `all-to-humans` switch: this question goes to the queue as it is."""
    return dataclasses.replace(handoff_request(tracker), reason=ALL_TO_HUMANS_REASON)


def _utter(
    dispatcher: CollectingDispatcher,
    settings: Settings,
    response: str,
    language: str,
    **values: Any,
) -> None:
    placeholders: dict[str, Any] = settings.profile.placeholders(language)
    dispatcher.utter_message(response=response, **{**placeholders, **values})


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
        _utter(dispatcher, settings, response, language)
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


def hand_off(
    dispatcher: CollectingDispatcher,
    settings: Settings,
    request: HandoffRequest,
    sure_topic: Topic | None = None,
) -> list[dict[str, Any]]:
    """Carries out the handoff of `request`: what the person is sent goes to
    `dispatcher`; returns the events (a pause when the bot steps back).

    `sure_topic`: the enabled FAQ topic the message was confidently about,
    when a trigger escalated it (the bot answers it and, unless the message
    is urgent or the person asked for a human, stays).
    """
    language = request.language
    # Safety first: emergency numbers go out before anything can fail.
    if request.reason in EMERGENCY_RESPONSES:
        dispatcher.utter_message(
            response=EMERGENCY_RESPONSES[request.reason],
            guidance=settings.profile.emergency(request.reason, language),
        )
    stays = (
        sure_topic is not None
        and request.priority != URGENT
        and request.reason not in (ASKED_FOR_HUMAN, ALL_TO_HUMANS_REASON)
    )
    if request.reason == "anger":
        # Only promise a person takes over when the bot steps back.
        dispatcher.utter_message(
            response="utter_empathy" if stays else "utter_handoff_empathy"
        )
    if sure_topic is not None and request.reason != ALL_TO_HUMANS_REASON:
        send_answer(dispatcher, settings, sure_topic, language, request.conversation_id)
    events: list[dict[str, Any]] = [SlotSet("asked_to_clarify", False)]
    queue_closed = current_switches(settings.database_url).queue_closed
    if stays:
        # A ticket so the team sees it; the person goes on asking the bot.
        if not queue_closed:
            outcome = request_handoff(request, settings)
            if outcome.queued or outcome.kept:
                dispatcher.utter_message(response="utter_handoff_flagged")
        return events
    if queue_closed:
        _utter(dispatcher, settings, "utter_handoff_contact", language)
        send_statement(dispatcher, settings, language, request.conversation_id)
        return events
    outcome = request_handoff(request, settings)
    tell(dispatcher, outcome, settings, language)
    if outcome.queued or outcome.kept:
        events.append(ConversationPaused())
    return events
