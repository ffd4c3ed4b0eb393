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

Each public channel owns its conversation ids, so nobody writes or listens
as someone else:

- the providers' ids are `<channel>:<provider id>` (provider.py), made from
  signed webhooks; a REST `sender` may take any other value, never one of
  those prefixes (nor the web chat's);
- the web chat never chooses its id: on `session_request` Relais issues one
  (`socketio:<random>`) with a pass (`<id>.<signature>`, an HMAC keyed by the
  console secret) that the chat keeps and shows again to resume; a missing,
  forged or stale pass gets a new conversation. The socket joins the room of
  the conversation it holds a pass for, and its messages go to that
  conversation only, whatever `session_id` they carry. A chat that resumes gets
  the conversation so far (`relais_history`, from the tracker store): what
  an agent or the bot wrote while the page was closed is waiting there. A
  message that comes before its socket's `session_request` is dropped (it
  belongs to no conversation yet), so the chat (chat.js) holds what the
  person types until its conversation is confirmed and, on a resume, until
  the history has come (null when it could not be read).

credentials.yml names these classes; their channel names stay `rest` and
`socketio`, so URLs, trackers and the console see no difference.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request
from socketio import AsyncRedisManager

from bot.channels.guard import Guard, Handler
from bot.channels.provider import AGENT_KEY, conversation_id
from bot.corrections import MARK as CORRECTION_MARK
from bot.handoff.window import CHANNEL_NAMES
from bot.nlu.gate import MAX_MESSAGE_LENGTH
from bot.rasa_api import offered_buttons
from bot.settings import get_settings

# A question fits in a few hundred bytes; this leaves room for metadata.
MAX_BODY_BYTES = 64 * 1024
MAX_SENDER_LENGTH = 255  # the tracker store's sender_id column
# A chat that resumes shows at most this many of the last messages.
HISTORY_LENGTH = 200
# The ids other channels give their conversations: never a REST sender.
OWNED_PREFIXES = tuple(f"{name}:" for name in CHANNEL_NAMES if name != "rest")
WEB_CHANNEL = "socketio"

logger = logging.getLogger(__name__)


def _pass_key() -> bytes:
    """The web chat's passes are signed with a key of their own, derived from
    the console secret (every Rasa process behind nginx shares it)."""
    secret = get_settings().console_secret.encode()
    return hmac.new(secret, b"relais web chat conversation", hashlib.sha256).digest()


def _signature(conversation: str) -> str:
    return hmac.new(_pass_key(), conversation.encode(), hashlib.sha256).hexdigest()


def new_web_conversation() -> tuple[str, str]:
    """A new web chat conversation: its id, and its pass for the chat to keep,
    `<conversation id>.<signature>`."""
    conversation = conversation_id(WEB_CHANNEL, secrets.token_hex(16))
    return conversation, f"{conversation}.{_signature(conversation)}"


def web_conversation(web_pass: Any) -> str | None:
    """The conversation a pass opens, or None when it was not issued here."""
    if not isinstance(web_pass, str) or len(web_pass) > MAX_SENDER_LENGTH:
        return None
    conversation, _, signature = web_pass.rpartition(".")
    if not conversation.startswith(f"{WEB_CHANNEL}:"):
        return None
    if not hmac.compare_digest(_signature(conversation), signature.lower()):
        return None
    return conversation


def history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as the web chat shows it, from a tracker's events.

    Each item: `who` ("user" or "bot"), `text`, the `buttons` offered (title
    and payload), `agent`, the name of the person of the team who wrote
    it (bot/handoff/agent.py), and `correction`, the id of the correction it
    is (bot/corrections/sending.py: the chat shows it at the top too). A
    button pressed shows as its title, as it did when pressed; silent events
    (actions, slots, pauses) are left out.
    """
    shown: list[dict[str, Any]] = []
    titles: dict[str, str] = {}  # the last buttons offered: payload -> title
    for event in events:
        kind = event.get("event")
        if kind == "user":
            text = str(event.get("text") or "")
            text = titles.get(text, text)
            if text and not text.startswith("/"):
                shown.append({"who": "user", "text": text})
        elif kind == "bot":
            data = event.get("data") or {}
            buttons = offered_buttons(event)
            custom = data.get("custom")
            custom = custom.get("data") if isinstance(custom, dict) else None
            text = str(event.get("text") or "")
            if not text and not buttons:
                continue
            if buttons:
                titles = {b["payload"]: b["title"] for b in buttons}
            item: dict[str, Any] = {"who": "bot", "text": text, "buttons": buttons}
            if isinstance(custom, dict) and custom.get(AGENT_KEY):
                item["agent"] = str(custom[AGENT_KEY])
            if (event.get("metadata") or {}).get(CORRECTION_MARK):
                item["correction"] = event["metadata"][CORRECTION_MARK]
            shown.append(item)
    return shown[-HISTORY_LENGTH:]


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
        owned = next((p for p in OWNED_PREFIXES if sender.lower().startswith(p)), None)
        if owned:
            channel = CHANNEL_NAMES[owned[:-1]]
            raise InvalidUsage(
                f'"sender" cannot start with "{owned}": those conversations belong '
                f"to the {channel} channel. Choose another id."
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
        handle = guard.wrap(on_new_message)
        blueprint = super().blueprint(handle)
        if self.sio is not None:
            self._issue_conversations(self.sio, handle, guard)
            redis_url = get_settings().socketio_redis_url
            if redis_url:
                share_through_redis(self.sio, redis_url)
        return guard.blueprint(blueprint)

    def _issue_conversations(
        self, sio: Any, on_new_message: Handler, guard: Guard
    ) -> None:
        """Replaces Rasa's `session_request` and message handlers, which let
        the client name the conversation (and so join anyone's room); a chat
        that resumes gets its conversation so far."""

        async def send_history(sid: str, conversation: str) -> None:
            # Always answered, so the chat knows when to send what the person
            # typed meanwhile: null when the past cannot be read (the chat
            # keeps what it shows).
            shown: list[dict[str, Any]] | None = None
            agent = guard.agent()
            if agent is not None and agent.tracker_store is not None:
                try:
                    tracker = await agent.tracker_store.retrieve(conversation)
                except Exception:  # the chat still works; only the past is missing
                    logger.exception("Could not read %s for the web chat", conversation)
                    tracker = None
                if tracker is not None:
                    shown = history([event.as_dict() for event in tracker.events])
            await sio.emit("relais_history", shown, room=sid, namespace=self.namespace)

        async def session_request(sid: str, data: Any) -> None:
            shown = data.get("session_id") if isinstance(data, dict) else None
            conversation = web_conversation(shown)
            if conversation is None:
                conversation, web_pass = new_web_conversation()
            else:
                web_pass = str(shown)
            async with sio.session(sid, namespace=self.namespace) as session:
                old = session.get("conversation")
                session["conversation"] = conversation
            if old and old != conversation:
                sio.leave_room(sid, old, namespace=self.namespace)
            sio.enter_room(sid, conversation, namespace=self.namespace)
            await sio.emit(
                "session_confirm", web_pass, room=sid, namespace=self.namespace
            )
            if web_pass == shown:
                await send_history(sid, conversation)

        async def handle_message(sid: str, data: Any) -> None:
            session = await sio.get_session(sid, namespace=self.namespace)
            conversation = session.get("conversation")
            if conversation is None or not isinstance(data, dict):
                logger.warning(
                    "A web chat message came before its session_request: ignored."
                )
                return
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            text = data.get("message")
            await on_new_message(
                UserMessage(
                    text if isinstance(text, str) else "",
                    SocketIOOutput(sio, self.bot_message_evt),
                    conversation,
                    input_channel=self.name(),
                    metadata=metadata if isinstance(metadata, dict) else {},
                )
            )

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)


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
