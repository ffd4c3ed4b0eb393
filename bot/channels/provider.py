"""What the providers' channels (meta.py, telegram.py) have in common.

Inbound, a provider posts a webhook: it is refused unless signed with the
brand's secret (logged, never processed), each message in it goes through the
guard once (providers deliver again when unsure; a message id already seen,
by this process or another, before a restart or after, is skipped: seen.py),
and the provider hears 200 even when an answer could not be sent (a 5xx only
makes it deliver the same message again).

Outbound, a bot message becomes one or more provider messages shaped by
shaping.py: the text split at sentence ends, buttons as the channel's quick
replies, an agent's reply signed with their name. A provider's refusal raises
`DeliveryError`: an agent's reply sent through Rasa's HTTP API then fails with
the provider's reason, instead of vanishing.

Conversation ids carry the channel ("messenger:<id>", "telegram:<chat id>"),
so that two channels' numeric ids never meet in one conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channel_settings import ChannelSettings
from bot.channels.guard import Guard, Handler
from bot.channels.seen import Seen
from bot.channels.shaping import Limits, split_for_buttons, split_text
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Meta batches at most a few hundred events per webhook; a body this large
# is not one of theirs.
MAX_WEBHOOK_BYTES = 1024 * 1024
SEND_TIMEOUT_SECONDS = 20
# The bot message's `custom` data an agent's reply carries (agent.py).
AGENT_KEY = "relais_agent"
TAG_KEY = "relais_tag"
# WhatsApp's invitation past its window (agent.invite): a template's name
# and the person's language.
TEMPLATE_KEY = "relais_template"
LANGUAGE_KEY = "relais_language"


class DeliveryError(Exception):
    """The provider refused a message; the text says which and why."""


@dataclass
class Inbound:
    """One message a person sent, as the guard reads it."""

    sender: str  # the provider's id of the person (or chat)
    text: str
    message_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def conversation_id(channel: str, sender: str) -> str:
    return f"{channel}:{sender}"


def provider_id(channel: str, recipient_id: str) -> str:
    """The provider's id of the person from a conversation id."""
    prefix = f"{channel}:"
    return (
        recipient_id[len(prefix) :] if recipient_id.startswith(prefix) else recipient_id
    )


def meta_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Meta's X-Hub-Signature-256: "sha256=" and the HMAC-SHA256 of the raw
    body with the app secret."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


# One connection pool per process, kept between messages: in a surge each
# answer would otherwise open (and TLS-handshake) its own connection to the
# provider. Made in, and for, the event loop that sends (Rasa's).
_pool: aiohttp.ClientSession | None = None
_pool_loop: asyncio.AbstractEventLoop | None = None


def _session() -> aiohttp.ClientSession:
    global _pool, _pool_loop
    loop = asyncio.get_running_loop()
    if _pool is None or _pool.closed or _pool_loop is not loop:
        _pool = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS)
        )
        _pool_loop = loop
    return _pool


async def close_pool(*_: Any) -> None:
    """Closes the connections when the server stops."""
    if _pool is not None and not _pool.closed:
        await _pool.close()


async def post_json(
    channel: str,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Posts to a provider's API; its refusal becomes a `DeliveryError`."""
    try:
        async with _session().post(
            url, json=payload, headers=headers, params=params
        ) as answer:
            text = await answer.text()
            status = answer.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise DeliveryError(
            f"{channel} could not be reached ({type(error).__name__})"
        ) from None
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {"raw": text[:200]}
    if status >= 400 or body.get("ok") is False:
        raise DeliveryError(f"{channel} refused the message: {_reason(body, status)}")
    return body if isinstance(body, dict) else {}


def _reason(body: Any, status: int) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error['message']} (HTTP {status})"
        if body.get("description"):  # Telegram
            return f"{body['description']} (HTTP {status})"
    return f"HTTP {status}"


class ShapedOutput(OutputChannel):
    """Sends bot messages shaped to the channel's limits.

    Subclasses say how one text, and one text with buttons, go out.
    """

    channel = ""
    limits = Limits(text=2000, buttons=3, title=20)

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings

    @classmethod
    def name(cls) -> str:
        return cls.channel

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        relais = _relais_data(message.get("custom"))
        if relais.get(TEMPLATE_KEY):
            to = provider_id(self.channel, recipient_id)
            language = str(relais.get(LANGUAGE_KEY) or "fr")
            await self.send_template(to, str(relais[TEMPLATE_KEY]), language)
            return
        text = str(message.get("text") or "")
        agent = relais.get(AGENT_KEY)
        if agent and text:
            text = f"{text}\n— {agent}"
        buttons = message.get("buttons") or message.get("quick_replies") or []
        tag = relais.get(TAG_KEY)
        to = provider_id(self.channel, recipient_id)
        if buttons:
            *before, last = split_for_buttons(text, self.limits)
            for part in before:
                await self.send_text(to, part, tag)
            await self.send_buttons(to, last, list(buttons), tag)
        else:
            for part in split_text(text, self.limits.text, self.limits.measure):
                await self.send_text(to, part, tag)
        if message.get("image"):  # no image in Relais' answers; a link at least
            await self.send_text(to, str(message["image"]), tag)

    async def send_text_message(
        self, recipient_id: str, text: str, **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: list[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_text(self, to: str, text: str, tag: str | None) -> None:
        raise NotImplementedError

    async def send_template(self, to: str, name: str, language: str) -> None:
        raise DeliveryError(f"{self.channel} has no message templates")

    async def send_buttons(
        self, to: str, text: str, buttons: list[dict[str, Any]], tag: str | None
    ) -> None:
        raise NotImplementedError


def _relais_data(custom: Any) -> dict[str, Any]:
    """Relais' own keys in a bot message's `custom` (an agent's name, a tag)."""
    if not isinstance(custom, dict):
        return {}
    data = custom.get("data", custom)
    return data if isinstance(data, dict) else {}


class ProviderInput(InputChannel):
    """A provider's webhook at /webhooks/<name>/webhook.

    Subclasses check the signature, read the messages out of a webhook body,
    and build the output channel.
    """

    channel = ""

    def __init__(self, settings: ChannelSettings | None = None) -> None:
        self._settings = settings
        self.seen = Seen(self.channel)

    @classmethod
    def name(cls) -> str:
        return cls.channel

    @property
    def settings(self) -> ChannelSettings:
        return self._settings or get_settings().channels

    def configured(self) -> bool:
        return self.channel in self.settings.configured

    def get_output_channel(self) -> OutputChannel | None:
        return self.output() if self.configured() else None

    def output(self) -> ShapedOutput:
        raise NotImplementedError

    def signed(self, request: Request) -> bool:
        raise NotImplementedError

    def inbound(self, body: dict[str, Any]) -> Iterable[Inbound]:
        raise NotImplementedError

    async def acknowledge(self, body: dict[str, Any]) -> None:
        """What the provider expects besides 200 (Telegram: a button's spinner)."""

    def verify(self, request: Request) -> HTTPResponse:
        return response.text("Use POST.", status=405)

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        guard = Guard(answer_follows=True)
        handle = guard.wrap(on_new_message)
        webhook = Blueprint(f"relais_{self.channel}_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            state = "on" if self.configured() else "not configured"
            return response.json(
                {"status": "ok", "channel": self.channel, "state": state}
            )

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return self.verify(request)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, handle)

        webhook.listener("after_server_stop")(close_pool)
        return guard.blueprint(webhook)

    async def _receive(self, request: Request, handle: Handler) -> HTTPResponse:
        if not self.configured():
            return response.text(
                f"The {self.channel} channel is not configured on this Relais "
                "(see the README, Channels).",
                status=404,
            )
        if len(request.body or b"") > MAX_WEBHOOK_BYTES:
            logger.warning("%s webhook refused: body over 1 MB", self.channel)
            return response.text("Body too large.", status=413)
        if not self.signed(request):
            logger.warning(
                "%s webhook refused: bad or missing signature (from %s)",
                self.channel,
                request.remote_addr or request.ip,
            )
            return response.text("Bad or missing signature.", status=403)
        try:
            body = json.loads(request.body or b"")
        except ValueError:
            logger.warning("%s webhook refused: the body is not JSON", self.channel)
            return response.text("The body is not JSON.", status=400)
        if not isinstance(body, dict):
            return response.text("The body is not a JSON object.", status=400)
        await self.acknowledge(body)
        messages = [
            m for m in self.inbound(body) if await self.seen.first_time(m.message_id)
        ]
        await self._handle_all(messages, handle)
        return response.text("EVENT_RECEIVED")

    async def _handle_all(self, messages: list[Inbound], handle: Handler) -> None:
        """Each person's messages in order; different people side by side."""
        by_person: dict[str, list[Inbound]] = {}
        for message in messages:
            by_person.setdefault(message.sender, []).append(message)
        await asyncio.gather(
            *(self._handle_in_order(each, handle) for each in by_person.values())
        )

    async def _handle_in_order(self, messages: list[Inbound], handle: Handler) -> None:
        for message in messages:
            user_message = UserMessage(
                message.text,
                self.output(),
                conversation_id(self.channel, message.sender),
                input_channel=self.channel,
                metadata=message.metadata or None,
            )
            try:
                await handle(user_message)
            except DeliveryError as error:
                logger.error(
                    "Answer to %s not delivered: %s", user_message.sender_id, error
                )
            except Exception:
                logger.exception(
                    "%s message from %s failed", self.channel, user_message.sender_id
                )
