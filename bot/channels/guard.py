"""What every public message goes through before Rasa's agent sees it.

In a crisis some messages are not questions: a pasted letter, a 1 MB paste, a
flood of people at once. Rasa's own channels hand every one of them to the
NLU pipeline whole, so one long message holds the server for everyone
(100 KB: 9 s; 1 MB: nearly two minutes) and its full text is stored in the
tracker. Every Relais channel (web.py, meta.py, telegram.py) wraps Rasa's
`on_new_message` in a `Guard`, so before any NLU work:

- a message longer than the gate's MAX_MESSAGE_LENGTH is cut to one character
  more than that, so the gate still declines it as too long and asks for the
  question, the NLU work stays small, and the tracker never keeps the paste;
  the original length travels in the message's metadata;
- Rasa's own commands typed as text ("/restart", "/back", "/session_start")
  lose their slash: from the public they are words, never commands (Rasa
  runs "/restart" even in a paused conversation, which ended a handoff);
- with the action server down, the message is answered truthfully from the
  Rasa process itself (bot/degraded.py) instead of Rasa's endless "please
  rephrase";
- when more people write than the process can answer, messages wait their
  turn (urgent-looking ones first) and anyone waiting more than a few seconds
  gets a holding reply at once (bot/overload.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    OutputChannel,
    UserMessage,
)
from rasa.shared.core.domain import Domain
from sanic import Blueprint, Sanic

from bot import rasa_fixes
from bot.degraded import ActionServer, render, reply_without_actions
from bot.handoff import spool
from bot.nlu.gate import MAX_MESSAGE_LENGTH
from bot.overload import (
    HELD_KEY,
    HELD_RANK,
    HOLDING_RESPONSE,
    URGENT_RANK,
    Admission,
    Place,
    StatementCache,
    guess_language,
    holding_messages,
    looks_urgent,
)
from bot.rasa_api import WARM_UP_TEXTS
from bot.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)

# Rasa loads these channels at start-up, before the first message: the one
# place Relais' code runs in the Rasa process early enough.
rasa_fixes.install()

TRUNCATED_KEY = "relais_truncated_from"
# The largest body any Relais channel takes (Meta's batched webhooks). Sanic
# would otherwise read up to 100 MB into memory before any channel's own
# limit looks at it.
MAX_REQUEST_BYTES = 1024 * 1024

Handler = Callable[[UserMessage], Awaitable[Any]]
# One look at the action server's health serves every channel, and all
# share one line of messages waiting their turn.
ACTION_SERVER = ActionServer()
STATEMENT = StatementCache()
_admission: Admission | None = None
# Messages still being handled after their holding reply went out.
_held: set[asyncio.Task[Any]] = set()


def admission() -> Admission:
    global _admission
    if _admission is None:
        _admission = Admission(get_settings().max_in_progress)
    return _admission


@lru_cache(maxsize=1)
def _project_domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


# "/restart", "/ back", "/session_start{...}", "/back@0.9": what Rasa's
# RegexMessageHandler would read as one of its control intents.
CONTROL_COMMAND = re.compile(r"^\s*/\s*(restart|back|session_start)\b", re.IGNORECASE)


def disarm(message: UserMessage) -> UserMessage:
    """Makes a typed Rasa command plain text ("/restart" -> "restart")."""
    text = message.text
    if text and CONTROL_COMMAND.match(text):
        message.text = text.strip().removeprefix("/").strip()
    return message


def shorten(message: UserMessage) -> UserMessage:
    """Cuts an overlong message to one character past the gate's limit."""
    text = message.text
    if text is None or len(text) <= MAX_MESSAGE_LENGTH:
        return message
    message.metadata = {**(message.metadata or {}), TRUNCATED_KEY: len(text)}
    message.text = text[: MAX_MESSAGE_LENGTH + 1]
    return message


class Guard:
    """What every message goes through before Rasa's agent sees it.

    Args:
        answer_follows: The channel can push messages later (socket.io), so
            an answer that comes after a holding reply still reaches the
            person; REST answers once per request.
    """

    def __init__(self, answer_follows: bool = False) -> None:
        self.app: Sanic | None = None  # the Rasa server, once it has started
        self.answer_follows = answer_follows

    def agent(self) -> Any:
        """Rasa's agent, once the server has started."""
        return getattr(self.app.ctx, "agent", None) if self.app else None

    def wrap(self, on_new_message: Handler) -> Handler:
        async def handle(message: UserMessage) -> Any:
            message = disarm(shorten(message))
            reply_to = message.output_channel
            # The answer is collected, then passed on whole: either in time,
            # or after a holding reply (socket.io), or kept in the tracker.
            collected = CollectingOutputChannel()
            message.output_channel = collected
            arrived = time.monotonic()
            place = Place(message.sender_id, urgent=looks_urgent(message.text or ""))
            work = asyncio.create_task(self._answer(on_new_message, message, place))
            patience = get_settings().holding_reply_seconds
            # When the answer would come later than a person's patience (the
            # line ahead at its pace, then the measured service time), they
            # are told at once rather than after waiting to find out.
            line = admission()
            if line.expected_answer(place.rank) > patience or (
                place.rank != URGENT_RANK and line.behind_held(place.key)
            ):
                patience = 0
            done, _ = await asyncio.wait({work}, timeout=patience)
            if work in done:
                work.result()
                await _forward(collected, reply_to)
                return None
            await self._hold(message, reply_to, waited=time.monotonic() - arrived)
            if not self.answer_follows and place.rank != URGENT_RANK:
                line.move(place, HELD_RANK)
            _held.add(asyncio.create_task(self._finish(work, collected, reply_to)))
            return None

        return handle

    async def _finish(
        self,
        work: asyncio.Task[None],
        collected: CollectingOutputChannel,
        reply_to: OutputChannel,
    ) -> None:
        """After a holding reply: the answer, when the channel can still
        take it; a failure is logged (no request is left to fail)."""
        try:
            await work
            if self.answer_follows:
                await _forward(collected, reply_to)
        except Exception:
            logger.exception("Message handled after a holding reply failed")
        finally:
            _held.discard(asyncio.current_task())

    async def _answer(
        self, on_new_message: Handler, message: UserMessage, place: Place
    ) -> None:
        async with admission().turn(place):
            agent = self.agent()
            if agent is not None and agent.is_ready():
                endpoint = agent.action_endpoint
                if not await ACTION_SERVER.is_up(endpoint and endpoint.url):
                    await reply_without_actions(agent, message)
                    return
            await on_new_message(message)

    async def _hold(
        self, message: UserMessage, reply_to: OutputChannel, waited: float
    ) -> None:
        """Tells a person still waiting that their message is being handled."""
        language = guess_language(message.text or "")
        agent = self.agent()
        domain = agent.domain if agent is not None else None
        if domain is None or HOLDING_RESPONSE not in domain.responses:
            domain = _project_domain()  # a model trained before these replies
        values = get_settings().profile.placeholders(language)
        texts = holding_messages(
            lambda name, lang: render(domain, name, lang, values),
            language,
            STATEMENT.get(language),
            self.answer_follows,
        )
        # How long the person had waited, recorded with the message when it
        # is still waiting for its turn (0 when told at once).
        message.metadata = {**(message.metadata or {}), HELD_KEY: round(waited, 2)}
        logger.debug("Holding reply to %s (%d in line)", message.sender_id,
                     admission().waiting)  # fmt: skip
        for text in texts:
            await reply_to.send_text_message(message.sender_id, text)

    def blueprint(self, blueprint: Blueprint) -> Blueprint:
        """Caps request bodies at MAX_REQUEST_BYTES, lets the guard find the
        agent once the server runs, delivers what an earlier run spooled, and
        warms the model up."""

        async def remember(app: Sanic, _loop: Any) -> None:
            self.app = app
            settings = get_settings()
            # Handoffs this process spooled (action server down, then the
            # database too) before it was stopped.
            spool.drain_at_start(
                settings.spool_dir,
                settings.database_url,
                spool.webhook_alert(settings.alert_webhook_url),
            )
            await warm_up(self.agent())

        async def limit_bodies(app: Sanic, _loop: Any) -> None:
            app.config.REQUEST_MAX_SIZE = min(
                app.config.REQUEST_MAX_SIZE, MAX_REQUEST_BYTES
            )

        blueprint.listener("before_server_start")(limit_bodies)
        blueprint.listener("after_server_start")(remember)
        return blueprint


# Models already warmed up (an agent is forgotten with its model).
_warmed: weakref.WeakSet[Any] = weakref.WeakSet()


async def warm_up(agent: Any) -> None:
    """Parses a few messages with a freshly loaded model (once per model,
    whichever channel asks), so the first person to write after a start is
    not the one who waits seconds for TensorFlow and spaCy to warm up, nor
    gets a holding reply from an idle server. (`relais publish` does the
    same through the HTTP API for a model it loads.)"""
    if agent is None or not agent.is_ready() or agent in _warmed:
        return
    _warmed.add(agent)
    started = time.monotonic()
    try:
        for text in WARM_UP_TEXTS:
            await agent.parse_message(text)
    except Exception:
        logger.exception("Warming the model up failed; the first answer will be slow")
        return
    logger.info("Model warmed up in %.1f s", time.monotonic() - started)


async def _forward(collected: CollectingOutputChannel, reply_to: OutputChannel) -> None:
    for sent in collected.messages:
        message = dict(sent)
        recipient = message.pop("recipient_id")
        await reply_to.send_response(recipient, message)


def guarded(on_new_message: Handler) -> Handler:
    """`on_new_message` for messages no longer than the gate reads (the
    length guard alone, without the action server check)."""
    return Guard().wrap(on_new_message)
