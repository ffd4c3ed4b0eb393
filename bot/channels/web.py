"""The web channels: Rasa's REST and socket.io, guarded for a storm.

Both go through the guard (guard.py). Besides, a REST request must be a JSON
object with a `sender` (the conversation; Rasa would otherwise put every
sender-less client in one conversation named "default") and a `message`
string, and its body at most MAX_BODY_BYTES: anything else is refused with 400
or 413 and says what is expected.

With several Rasa processes (`make run-scaled`), a person's socket lives in
the process nginx sent them to, while an agent's reply may reach Rasa's HTTP
API on another: with RELAIS_SOCKETIO_REDIS_URL set, every socket.io message
goes through Redis (python-socketio's AsyncRedisManager) and the process
holding the socket delivers it.

credentials.yml names these classes; their channel names stay `rest` and
`socketio`, so URLs, trackers and the console see no difference.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request
from socketio import AsyncRedisManager

from bot.channels.guard import Guard, Handler
from bot.nlu.gate import MAX_MESSAGE_LENGTH
from bot.settings import get_settings

# A question fits in a few hundred bytes; this leaves room for metadata.
MAX_BODY_BYTES = 64 * 1024
MAX_SENDER_LENGTH = 255  # the tracker store's sender_id column


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
        guard = Guard(answer_follows=True)
        blueprint = super().blueprint(guard.wrap(on_new_message))
        redis_url = get_settings().socketio_redis_url
        if redis_url and self.sio is not None:
            share_through_redis(self.sio, redis_url)
        return guard.blueprint(blueprint)


def share_through_redis(sio: Any, redis_url: str) -> None:
    """Makes `sio` emit through Redis, so that a message for a socket held by
    another Rasa process reaches it.

    Rasa builds its AsyncServer inside `SocketIOInput.blueprint` without a
    client manager; the manager is swapped before any client connects (the
    server starts it on the first connection).
    """
    manager = AsyncRedisManager(redis_url, channel="relais-socketio")
    manager.set_server(sio)
    sio.manager = manager
