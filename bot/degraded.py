"""When the action server does not answer: truthful replies from Rasa itself.

Every answer Relais gives goes through the action server (FAQ answers, the
handoff, the holding statement). With it down, Rasa 3.6 loses each action's
events and falls back to "I did not understand, please rephrase" for every
message, a request for a human included, which is recorded nowhere.

The channels (bot/channels/guard.py) ask `ActionServer.is_up` before handing a
message to Rasa's agent. When it is down, `reply_without_actions` answers from
what the Rasa process knows by itself:

- the NLU model runs as usual (it lives in this process), so the gate's
  decision and the escalation triggers are known;
- a question the gate is sure of gets its answer from the pack's files, as
  the action server would send it;
- a request for a human or a sensitive message is handed off by the same
  decision `action_handoff` takes (bot/handoff/decision.py): the profile's
  emergency guidance first for health and self-harm, the queue (the
  database, else the spool on disk), where the person stands, the pause; the
  crisis switches hold (`queue-closed`: contacts and the statement;
  `all-to-humans`: every question to the queue);
- anything else: the assistant is briefly unavailable, with the contacts.

The message and the replies are written to the conversation's tracker under
Rasa's lock, so the transcript stays whole; while a person has the
conversation (paused), the message is recorded and nothing is sent, as Rasa
does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.nlg.interpolator import interpolate_text
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    BotUttered,
    ConversationPaused,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import EventVerbosity
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.faq.answers import send_answer
from bot.faq.live import current_pack
from bot.handoff.decision import all_to_humans_request, hand_off, handoff_request
from bot.handoff.switches import current_switches
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# How long one look at the action server's health holds. Shorter: more
# requests to it; longer: more messages sent to a server that just went down.
PROBE_SECONDS = 2.0
# An action server busy with a surge still answers its health check within
# this; one that does not is of no use to a person waiting either.
PROBE_TIMEOUT_SECONDS = 3.0
HANDOFF_INTENT = "request_human"
FAQ_INTENT = "faq"
# Marks the replies sent this way in the tracker (and the console's transcript).
DEGRADED_KEY = "relais_without_action_server"


class ActionServer:
    """Whether the action server answers its health check, looked at most
    every PROBE_SECONDS (one look serves every message in between)."""

    def __init__(self) -> None:
        self._checked_at = float("-inf")
        self._up = True
        self._lock = asyncio.Lock()

    async def is_up(self, webhook_url: str | None) -> bool:
        if not webhook_url:
            return True  # no action server configured: nothing to miss
        async with self._lock:
            if time.monotonic() - self._checked_at >= PROBE_SECONDS:
                self._up = await _answers(_health_url(webhook_url))
                self._checked_at = time.monotonic()
                if not self._up:
                    logger.error(
                        "The action server at %s does not answer: replying "
                        "without it until it is back.",
                        webhook_url,
                    )
            return self._up


def _health_url(webhook_url: str) -> str:
    base = webhook_url.rstrip("/")
    return (base.removesuffix("/webhook") or base) + "/health"


async def _answers(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)
            ) as session,
            session.get(url) as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


def render(domain: Domain, response: str, language: str, values: dict[str, Any]) -> str:
    """A domain response's text in `language` with `values` filled in."""
    text = ""
    for variation in domain.responses.get(response) or []:
        conditions = variation.get("condition") or []
        if not conditions and not text:
            text = str(variation.get("text") or "")
        if any(
            c.get("name") == "language" and c.get("value") == language
            for c in conditions
        ):
            text = str(variation.get("text") or "")
    return str(interpolate_text(text, {k: str(v) for k, v in values.items()}))


def _language(parse: dict[str, Any], tracker_language: Any) -> str:
    for entity in parse.get("entities") or []:
        if entity.get("entity") == "language" and entity.get("value") in ("fr", "en"):
            return str(entity["value"])
    return tracker_language if tracker_language in ("fr", "en") else "fr"


def _sure_topic(parse: dict[str, Any]) -> str | None:
    """The FAQ topic the gate would answer with, if any."""
    gate = parse.get("gate") or {}
    escalation = parse.get("escalation") or {}
    if escalation.get("faq_topic"):
        return str(escalation["faq_topic"])
    if (parse.get("intent") or {}).get("name") != FAQ_INTENT or not gate.get("answer"):
        return None
    selected = ((parse.get("response_selector") or {}).get(FAQ_INTENT) or {}).get(
        "response"
    ) or {}
    key = str(selected.get("intent_response_key") or "")
    return key.split("/", 1)[1] if "/" in key else None


async def reply_without_actions(agent: Agent, message: UserMessage) -> None:
    """Answers, records and, when needed, hands off `message` without the
    action server."""
    sender = message.sender_id
    text = message.text or ""
    parse = await agent.parse_message(text)
    processor = agent.processor
    if processor is None:  # no model loaded: Rasa answers that itself
        return
    async with agent.lock_store.lock(sender):
        tracker = await processor.get_tracker(sender)
        language = _language(parse, tracker.get_slot("language"))
        tracker.update(
            UserUttered(
                text,
                parse.get("intent"),
                parse.get("entities"),
                parse,
                input_channel=message.input_channel,
                message_id=message.message_id,
                metadata=message.metadata,
            )
        )
        replies: list[str] = []
        if not tracker.is_paused():
            tracker.update(SlotSet("language", language))
            replies, pause = await _decide(
                agent.domain,
                parse,
                Tracker.from_dict(tracker.current_state(EventVerbosity.ALL)),
                language,
            )
            for reply in replies:
                tracker.update(BotUttered(reply, metadata={DEGRADED_KEY: True}))
            if pause:
                tracker.update(ConversationPaused())
        await processor.save_tracker(tracker)
    for reply in replies:
        await message.output_channel.send_text_message(sender, reply)


async def _decide(
    domain: Domain,
    parse: dict[str, Any],
    tracker: Tracker,
    language: str,
) -> tuple[list[str], bool]:
    """The replies to send, and whether the bot pauses for a human: the same
    decision as the action server's (bot/handoff/decision.py)."""
    settings = get_settings()
    escalation = parse.get("escalation") or {}
    wants_human = (parse.get("intent") or {}).get("name") == HANDOFF_INTENT
    topic = current_pack(settings).get(_sure_topic(parse) or "")
    if topic is not None and not topic.enabled:
        topic = None
    dispatcher = CollectingDispatcher()
    events: list[dict[str, Any]] = []
    if escalation.get("reason") or wants_human:
        sure = topic if escalation.get("faq_topic") else None
        events = await asyncio.to_thread(
            hand_off, dispatcher, settings, handoff_request(tracker), sure
        )
    elif current_switches(settings.database_url).all_to_humans:
        events = await asyncio.to_thread(
            hand_off, dispatcher, settings, all_to_humans_request(tracker)
        )
    elif topic is not None:
        await asyncio.to_thread(
            send_answer, dispatcher, settings, topic, language, tracker.sender_id
        )
    else:
        dispatcher.utter_message(response="utter_service_degraded")
    values = settings.profile.placeholders(language)
    replies = [
        render(domain, str(said["response"]), language, {**values, **said})
        if said.get("response")
        else str(said.get("text") or "").strip()
        for said in dispatcher.messages
    ]
    pause = any(event.get("event") == "pause" for event in events)
    return [reply for reply in replies if reply], pause
