"""Telegram: the Bot API's webhook in, sendMessage out.

Relais does not use Rasa's telegram connector: it registers its webhook with
Telegram each time Rasa starts (a network call at start-up), checks no secret
(anyone who guesses the URL can post as anyone), and has no way out for an
agent's reply. Here the webhook is registered once, by a person
(`relais channels telegram-webhook URL`), with a secret Telegram repeats in
X-Telegram-Bot-Api-Secret-Token on every update; an update without it is
refused.

Documented shapes (core.telegram.org/bots/api): an Update holds `message`
(`chat.id`, `text`) or `callback_query` (`data`, `message.chat.id`);
sendMessage takes `chat_id`, `text` (4096 characters) and `reply_markup`
with an `inline_keyboard` whose buttons' `callback_data` is 1 to 64 bytes.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterable
from typing import Any

from sanic.request import Request

from bot.channels.provider import (
    DeliveryError,
    Inbound,
    ProviderInput,
    ShapedOutput,
    post_json,
)
from bot.channels.shaping import Limits, button_title, fit_buttons, utf8_bytes
from bot.faq.buttons import faq_payload

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CALLBACK_DATA_BYTES = 64
# A "did you mean" payload is longer than Telegram carries for long topic
# keys: it travels as "faq:<key>" and is turned back on the way in.
_FAQ_PAYLOAD = re.compile(r'^/faq\{"faq_topic":"([a-z0-9_]+)"\}$')
_SHORT_FAQ = re.compile(r"^faq:([a-z0-9_]+)$")
GREETINGS = {"fr": "Bonjour", "en": "Hello"}


def api_url(api: str, token: str, method: str) -> str:
    return f"{api}/bot{token}/{method}"


def callback_data(button: dict[str, Any]) -> str:
    """What a button sends back, within Telegram's 64 bytes."""
    payload = str(button.get("payload") or button.get("title") or "")
    if utf8_bytes(payload) <= CALLBACK_DATA_BYTES:
        return payload
    match = _FAQ_PAYLOAD.match(payload)
    if match and utf8_bytes(f"faq:{match[1]}") <= CALLBACK_DATA_BYTES:
        return f"faq:{match[1]}"
    # Anything else: the title, as if the person had typed it.
    title = str(button.get("title") or "")
    while utf8_bytes(title) > CALLBACK_DATA_BYTES:
        title = title[:-1]
    return title


def from_callback_data(data: str) -> str:
    match = _SHORT_FAQ.match(data)
    return faq_payload(match[1]) if match else data


class TelegramOutput(ShapedOutput):
    channel = "telegram"
    # No count limit worth cutting at (one button per row); titles whole.
    limits = Limits(text=4096, buttons=10, title=None)

    async def _send(self, payload: dict[str, Any]) -> None:
        token = self.settings.telegram_token or ""
        await post_json(
            self.channel,
            api_url(self.settings.telegram_api_url, token, "sendMessage"),
            payload,
        )

    async def send_text(self, to: str, text: str, tag: str | None) -> None:
        await self._send({"chat_id": to, "text": text})

    async def send_buttons(
        self, to: str, text: str, buttons: list[dict[str, Any]], tag: str | None
    ) -> None:
        keyboard = [
            [
                {
                    "text": button_title(button, self.limits.title),
                    "callback_data": callback_data(button),
                }
            ]
            for button in fit_buttons(buttons, self.limits.buttons)
        ]
        await self._send(
            {
                "chat_id": to,
                "text": text or "…",
                "reply_markup": {"inline_keyboard": keyboard},
            }
        )


class TelegramInput(ProviderInput):
    channel = "telegram"

    def output(self) -> ShapedOutput:
        return TelegramOutput(self.settings)

    def signed(self, request: Request) -> bool:
        secret = self.settings.telegram_secret or ""
        given = request.headers.get(SECRET_HEADER) or ""
        return bool(secret) and hmac.compare_digest(secret.encode(), given.encode())

    def inbound(self, body: dict[str, Any]) -> Iterable[Inbound]:
        update_id = body.get("update_id")
        seen = f"update-{update_id}" if update_id is not None else None
        message = body.get("message")
        callback = body.get("callback_query")
        if isinstance(message, dict):
            chat = (message.get("chat") or {}).get("id")
            if chat is None:
                return
            text = str(message.get("text") or "")
            if text.split("@")[0] == "/start":  # opening the bot: a greeting
                language = str((message.get("from") or {}).get("language_code") or "")
                text = GREETINGS["fr" if language.startswith("fr") else "en"]
            yield Inbound(str(chat), text, seen)
        elif isinstance(callback, dict):
            chat = ((callback.get("message") or {}).get("chat") or {}).get("id")
            if chat is not None:
                data = from_callback_data(str(callback.get("data") or ""))
                yield Inbound(str(chat), data, seen)

    async def acknowledge(self, body: dict[str, Any]) -> None:
        """Stops the spinner on a tapped button (Telegram waits for it)."""
        callback = body.get("callback_query")
        if not isinstance(callback, dict) or not callback.get("id"):
            return
        try:
            await post_json(
                self.channel,
                api_url(
                    self.settings.telegram_api_url,
                    self.settings.telegram_token or "",
                    "answerCallbackQuery",
                ),
                {"callback_query_id": str(callback["id"])},
            )
        except DeliveryError as error:  # the answer matters more than the spinner
            logger.warning("Telegram button not acknowledged: %s", error)
