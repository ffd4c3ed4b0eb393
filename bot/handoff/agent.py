"""What a community manager does with a ticket that needs Rasa as well as the queue.

The command line (`relais queue ...`) and the console call these. The queue
holds who has which conversation; the conversation itself lives in Rasa's
tracker, read and written through its HTTP API.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.channel_settings import ChannelSettings
from bot.faq import suggestions
from bot.faq.pack import Topic
from bot.handoff import queue, satisfaction
from bot.handoff.models import Ticket
from bot.handoff.window import TEMPLATE, WINDOWED, Window, reply_window
from bot.profile import Satisfaction
from bot.rasa_api import RasaClient, RasaError, RasaUnreachable, offered_buttons

logger = logging.getLogger(__name__)

MAX_REPLY_LENGTH = 2000
NO_CHANNELS = ChannelSettings()
CLOSING_RESPONSE = "utter_handoff_closed"


@dataclass(frozen=True)
class Turn:
    """One line of a conversation as an agent reads it."""

    at: datetime | None
    who: str  # "user", "bot", "agent <name>" or "event"
    text: str
    # An event's words before its values were put in, for the console to
    # translate (bot/console/i18n.py): "trigger: {reason} ({priority}) on …".
    template: str | None = None
    values: dict[str, str] | None = None


def _when(timestamp: Any) -> datetime | None:
    if not isinstance(timestamp, (int, float)):
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


# The mark a correction leaves on its message (bot/corrections' MARK: that
# room sits above this one).
CORRECTION_MARK = "relais_correction"


def transcript(tracker: dict[str, Any]) -> list[Turn]:
    """The conversation from Rasa's tracker: messages, handoffs, pauses."""
    turns = []
    titles: dict[str, str] = {}  # the last buttons offered: payload -> title
    for event in tracker.get("events") or []:
        kind, at = event.get("event"), _when(event.get("timestamp"))
        if kind == "user":
            # A button pressed shows as its title, as the person read it.
            text = event.get("text") or ""
            text = titles.get(text, text)
            escalation = (event.get("parse_data") or {}).get("escalation") or {}
            turns.append(Turn(at, "user", text))
            if escalation.get("reason"):
                reason, priority = escalation["reason"], escalation.get("priority")
                evidence = escalation.get("evidence")
                template = "trigger: {reason} ({priority}) on “{evidence}”"
                values = {"reason": reason, "priority": priority, "evidence": evidence}
                turns.append(
                    Turn(at, "event", template.format(**values), template, values)
                )
        elif kind == "bot":
            buttons = offered_buttons(event)
            if buttons:
                titles = {b["payload"]: b["title"] for b in buttons}
            metadata = event.get("metadata") or {}
            agent = metadata.get("agent")
            who = f"agent {agent}" if agent else "bot"
            turns.append(Turn(at, who, event.get("text") or ""))
            if metadata.get(CORRECTION_MARK):
                template, values = "correction #{id}", {"id": metadata[CORRECTION_MARK]}
                turns.append(
                    Turn(at, "event", template.format(**values), template, values)
                )
        elif kind == "action" and event.get("name") == "action_handoff":
            turns.append(Turn(at, "event", "handed to a human"))
        elif kind == "pause":
            turns.append(Turn(at, "event", "bot paused"))
        elif kind == "resume":
            turns.append(Turn(at, "event", "bot resumed"))
    return turns


def transcript_or_saved(
    rasa: RasaClient, ticket: Ticket
) -> tuple[list[Turn], str | None]:
    """The conversation from Rasa; if Rasa is down, the turns saved with the
    ticket and the reason, so an agent is never left with nothing to read."""
    try:
        return transcript(rasa.tracker(ticket.conversation_id)), None
    except RasaError as error:
        saved = [
            Turn(None, turn.get("role", "?"), turn.get("text", ""))
            for turn in json.loads(ticket.transcript or "[]")
        ]
        return saved, str(error)


def last_message_at(turns: list[Turn]) -> datetime | None:
    """When the person last wrote (None: not known)."""
    return next((t.at for t in reversed(turns) if t.who == "user" and t.at), None)


def window_of(
    ticket: Ticket,
    turns: list[Turn],
    channels: ChannelSettings,
    now: datetime | None = None,
) -> Window:
    """What the ticket's channel still lets an agent send (bot/handoff/window.py)."""
    return reply_window(
        ticket.channel,
        last_message_at(turns),
        now or datetime.now(timezone.utc),
        channels,
    )


def response_text(domain: dict[str, Any], name: str, language: str) -> str:
    """The text of a domain response in `language` (French is the default)."""
    variations = (domain.get("responses") or {}).get(name) or []
    default = None
    for variation in variations:
        conditions = variation.get("condition") or []
        wanted = [c.get("value") for c in conditions if c.get("name") == "language"]
        if language in wanted:
            return str(variation.get("text") or "")
        if not conditions and default is None:
            default = str(variation.get("text") or "")
    if default is None:
        raise RasaError(f"The model has no response {name}: retrain it (make train).")
    return default


def _bot_event(
    text: str,
    agent: str | None = None,
    signature: str | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "bot", "text": text, "timestamp": time.time()}
    if agent:
        event["metadata"] = {"agent": agent}
    if signature or tag:
        # Channels pass `custom` on after the text: the web chat labels the
        # message with the person's name, so nobody takes a human for the bot;
        # Messenger, WhatsApp and Telegram sign the text with it, and Meta's
        # channels send it with `tag` past the 24-hour window
        # (bot/channels/provider.py). (Rasa's socket.io channel calls
        # emit(**custom): the payload goes under "data".)
        data = {"relais_agent": signature} if signature else {}
        if tag:
            data["relais_tag"] = tag
        event["data"] = {"custom": {"data": data}}
    return event


def template_event(template: str, language: str) -> dict[str, Any]:
    """The brand's approved WhatsApp template as a bot message: the channel
    sends the template (bot/channels/provider.py), the transcript names it.
    An agent's invitation and a correction's (bot/corrections) use it."""
    return {
        "event": "bot",
        "text": f"(WhatsApp template {template}, {language})",
        "timestamp": time.time(),
        "data": {
            "custom": {
                "data": {"relais_template": template, "relais_language": language}
            }
        },
    }


def reply(
    *,
    factory: sessionmaker[Session],
    rasa: RasaClient,
    ticket_id: int,
    agent: str,
    text: str,
    signature: str | None = None,
    pack: dict[str, Topic] | None = None,
    channels: ChannelSettings = NO_CHANNELS,
    zone: tzinfo = timezone.utc,
    marks: dict[str, Any] | None = None,
) -> Ticket:
    """Sends the agent's message into the person's own chat, on the channel
    they wrote on; `marks` go into the message's metadata in the tracker (a
    correction's id, bot/corrections/sending.py).

    `signature` (the agent's display name) labels it in the web chat and
    signs it elsewhere. On Messenger, Instagram and WhatsApp, a reply the
    provider would refuse past its 24-hour window is refused here, with what
    can still be sent (`channels`: the Meta app may send tagged replies up
    to 7 days; WhatsApp's invitation template, `invite`). If the bot was
    still answering the person (a sensitive message it could answer,
    actions/handoff.py), it pauses first: once a human speaks, the bot is
    silent until the ticket is closed. When the reply is one of `pack`'s FAQ
    answers, the person's question becomes a suggestion for editors.
    """
    text = text.strip()
    if not text:
        raise queue.QueueError("The reply is empty.")
    if len(text) > MAX_REPLY_LENGTH:
        raise queue.QueueError("A reply is at most {n} characters.", n=MAX_REPLY_LENGTH)
    with factory.begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=ticket_id)
        queue.require_holder(ticket, agent)
    tag = None
    if ticket.channel in WINDOWED:
        tracker = rasa.tracker(ticket.conversation_id)
        paused = bool(tracker.get("paused"))
        window = window_of(ticket, transcript(tracker), channels)
        if not window.can_reply:
            raise queue.QueueError("Not sent. {window}", window=window.explain(zone))
        tag = window.tag
    else:
        paused = rasa.is_paused(ticket.conversation_id)
    events = [_bot_event(text, agent, signature or agent, tag)]
    events[0]["metadata"].update(marks or {})
    if not paused:
        events.insert(0, {"event": "pause", "timestamp": time.time()})
    rasa.append_events(ticket.conversation_id, events, ticket.channel)
    with factory.begin() as session:
        queue.mark_reply(session=session, ticket_id=ticket.id)
    topic = faq_answer_topic(text, pack or {})
    if topic is not None:
        _suggest(factory, rasa, ticket, topic)
    return ticket


def invite(
    *,
    factory: sessionmaker[Session],
    rasa: RasaClient,
    ticket_id: int,
    agent: str,
    channels: ChannelSettings,
    zone: tzinfo = timezone.utc,
) -> Ticket:
    """Past WhatsApp's 24-hour window, sends the brand's approved invitation
    template (RELAIS_WHATSAPP_TEMPLATE) in the person's language: their
    answer opens a new window for the agent."""
    with factory.begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=ticket_id)
        queue.require_holder(ticket, agent)
    if ticket.channel != "whatsapp":
        raise queue.QueueError(
            "Invitations are a WhatsApp template; this conversation is not on WhatsApp: reply to it directly."  # noqa: E501
        )
    tracker = rasa.tracker(ticket.conversation_id)
    window = window_of(ticket, transcript(tracker), channels)
    if window.state != TEMPLATE or window.template is None:
        raise queue.QueueError(
            "No invitation to send. {window}", window=window.explain(zone)
        )
    language = ticket.language if ticket.language in ("fr", "en") else "fr"
    event = template_event(window.template, language)
    event["metadata"] = {"agent": agent}
    events = [event]
    if not tracker.get("paused"):
        events.insert(0, {"event": "pause", "timestamp": time.time()})
    rasa.append_events(ticket.conversation_id, events, ticket.channel)
    return ticket


def faq_answer_topic(text: str, pack: dict[str, Topic]) -> str | None:
    """The topic whose answer (in either language) the agent sent as it is."""
    sent = " ".join(text.split())
    for key, topic in pack.items():
        if any(" ".join(answer.split()) == sent for answer in topic.answers.values()):
            return key
    return None


def _suggest(
    factory: sessionmaker[Session], rasa: RasaClient, ticket: Ticket, topic: str
) -> None:
    """Keeps the question an agent answered with an FAQ; never fails the reply."""
    try:
        events = rasa.tracker(ticket.conversation_id).get("events") or []
        question = suggestions.question_before_reply(events)
        if question is None:
            return
        with factory.begin() as session:
            suggestions.record(
                session=session, text=question, topic=topic,
                language=ticket.language if ticket.language in ("fr", "en") else "fr",
                source=suggestions.AGENT, conversation_id=ticket.conversation_id,
            )  # fmt: skip
    except (RasaError, SQLAlchemyError) as error:
        logger.error("Suggestion from ticket %s not recorded: %s", ticket.id, error)


def _question(
    domain: dict[str, Any], ticket: Ticket, survey: Satisfaction
) -> list[dict[str, Any]]:
    """The satisfaction question for this hand-back, when it applies
    (bot/handoff/satisfaction.py); none from a model trained before it
    existed, which has neither the question nor the buttons' intent."""
    if not satisfaction.should_ask(ticket, survey):
        return []
    try:
        question = response_text(
            domain, satisfaction.QUESTIONS[survey.scale], ticket.language
        )
    except RasaError as error:
        logger.warning("Ticket %s: no satisfaction question (%s)", ticket.id, error)
        return []
    return [satisfaction.question_event(question, survey.scale, ticket.language)]


def close(
    *,
    factory: sessionmaker[Session],
    rasa: RasaClient,
    ticket_id: int,
    agent: str,
    channels: ChannelSettings = NO_CHANNELS,
    survey: Satisfaction | None = None,
) -> Ticket:
    """Hands the conversation back to the bot and closes the ticket.

    The ticket is closed only if Rasa took the hand-back: one call appends the
    resume, the closing message in the person's language, the question of
    `survey` when it applies (bot/handoff/satisfaction.py), and
    `action_listen` (so the bot's rules see a fresh turn when the person
    writes again). When the person's channel no longer takes a message (past
    its 24-hour window), or refuses this one (the person blocked the brand),
    the conversation is handed back without the closing message (nor the
    question) rather than left open.
    """
    with factory.begin() as session:
        ticket = queue.close(session=session, ticket_id=ticket_id, agent=agent)
        tag, closing = None, None
        window = None
        if ticket.channel in WINDOWED:
            turns = transcript(rasa.tracker(ticket.conversation_id))
            window = window_of(ticket, turns, channels)
        asked: list[dict[str, Any]] = []
        if window is None or window.can_reply:
            tag = window.tag if window else None
            domain = rasa.domain()
            closing = response_text(domain, CLOSING_RESPONSE, ticket.language)
            # Past the standard window a tag may carry a human's message, not
            # a survey.
            if survey is not None and tag is None:
                asked = _question(domain, ticket, survey)
        events = [
            {"event": "resume", "timestamp": time.time()},
            {"event": "action", "name": "action_listen", "timestamp": time.time()},
        ]
        if closing is None:
            rasa.append_events(ticket.conversation_id, events, ticket.channel)
            return ticket
        try:
            rasa.append_events(
                ticket.conversation_id,
                [events[0], _bot_event(closing, tag=tag), *asked, events[1]],
                ticket.channel,
            )
        except RasaUnreachable:
            raise
        except RasaError as error:
            logger.warning(
                "Ticket %s: closing message not delivered (%s); handed back without it",
                ticket.id,
                error,
            )
            rasa.append_events(ticket.conversation_id, events, ticket.channel)
            return ticket
        if asked and survey is not None:  # the question went out
            satisfaction.record_question(
                session=session, ticket=ticket, agent=agent, scale=survey.scale
            )
    return ticket
