"""The public chat channels: Rasa's REST and socket.io, guarded for a storm.

In a crisis some messages are not questions: a pasted letter, a 1 MB paste, a
script posting without a sender. Rasa's own channels hand every one of them to
the NLU pipeline whole, so one long message holds the server for everyone
(100 KB: 9 s; 1 MB: nearly two minutes) and its full text is stored in the
tracker. Here, before any NLU work:

- a message longer than the gate's MAX_MESSAGE_LENGTH is cut to one character
  more than that, so the gate still declines it as too long and asks for the
  question, the NLU work stays small, and the tracker never keeps the paste;
  the original length travels in the message's metadata;
- with the action server down, the message is answered truthfully from the
  Rasa process itself (bot/degraded.py) instead of Rasa's endless "please
  rephrase";
- a REST request must be a JSON object with a `sender` (the conversation; Rasa
  would otherwise put every sender-less client in one conversation named
  "default") and a `message` string, and its body at most MAX_BODY_BYTES:
  anything else is refused with 400 or 413 and says what is expected.

credentials.yml names these classes; their channel names stay `rest` and
`socketio`, so URLs, trackers and the console see no difference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, Sanic
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request

from bot import rasa_fixes
from bot.degraded import ActionServer, reply_without_actions
from bot.nlu.gate import MAX_MESSAGE_LENGTH

# Rasa loads these channels at start-up, before the first message: the one
# place Relais' code runs in the Rasa process early enough.
rasa_fixes.install()

# A question fits in a few hundred bytes; this leaves room for metadata.
MAX_BODY_BYTES = 64 * 1024
MAX_SENDER_LENGTH = 255  # the tracker store's sender_id column
TRUNCATED_KEY = "relais_truncated_from"

Handler = Callable[[UserMessage], Awaitable[Any]]
# One look at the action server's health serves both channels.
ACTION_SERVER = ActionServer()


def shorten(message: UserMessage) -> UserMessage:
    """Cuts an overlong message to one character past the gate's limit."""
    text = message.text
    if text is None or len(text) <= MAX_MESSAGE_LENGTH:
        return message
    message.metadata = {**(message.metadata or {}), TRUNCATED_KEY: len(text)}
    message.text = text[: MAX_MESSAGE_LENGTH + 1]
    return message


class Guard:
    """What every message goes through before Rasa's agent sees it."""

    def __init__(self) -> None:
        self.app: Sanic | None = None  # the Rasa server, once it has started

    def wrap(self, on_new_message: Handler) -> Handler:
        async def handle(message: UserMessage) -> Any:
            message = shorten(message)
            agent = getattr(self.app.ctx, "agent", None) if self.app else None
            if agent is not None and agent.is_ready():
                endpoint = agent.action_endpoint
                if not await ACTION_SERVER.is_up(endpoint and endpoint.url):
                    return await reply_without_actions(agent, message)
            return await on_new_message(message)

        return handle

    def blueprint(self, blueprint: Blueprint) -> Blueprint:
        """Lets the guard find the agent once the server runs."""

        async def remember(app: Sanic, _loop: Any) -> None:
            self.app = app

        blueprint.listener("after_server_start")(remember)
        return blueprint


def guarded(on_new_message: Handler) -> Handler:
    """`on_new_message` for messages no longer than the gate reads (the
    length guard alone, without the action server check)."""
    return Guard().wrap(on_new_message)


def _body(request: Request) -> dict[str, Any]:
    if len(request.body or b"") > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The message is too long: at most {MAX_BODY_BYTES // 1024} KB per "
            "request, and only the first "
            f"{MAX_MESSAGE_LENGTH} characters of a message are read."
        )
    body = request.json  # Sanic answers 400 to a body that is not JSON
    if not isinstance(body, dict):
        raise InvalidUsage(
            'Send a JSON object: {"sender": "<conversation id>", "message": "<text>"}.'
        )
    return body


class RelaisRestInput(RestInput):
    """Rasa's REST channel, refusing what is not a message from someone."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> str | None:
        sender = _body(req).get("sender")
        if isinstance(sender, int) and not isinstance(sender, bool):
            sender = str(sender)
        if not isinstance(sender, str) or not sender.strip():
            raise InvalidUsage(
                'Each message needs a "sender": the id of the person\'s '
                "conversation (any text, the same for all their messages)."
            )
        if len(sender) > MAX_SENDER_LENGTH:
            raise InvalidUsage(
                f'"sender" is at most {MAX_SENDER_LENGTH} characters long.'
            )
        return sender

    def _extract_message(self, req: Request) -> str | None:
        message = _body(req).get("message")
        if not isinstance(message, str):
            raise InvalidUsage('Each request needs a "message": the text, a string.')
        return message

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        guard = Guard()
        return guard.blueprint(super().blueprint(guard.wrap(on_new_message)))


class RelaisSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (the web chat), with the same guard."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        guard = Guard()
        return guard.blueprint(super().blueprint(guard.wrap(on_new_message)))
