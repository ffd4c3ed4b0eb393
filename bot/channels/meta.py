"""Messenger, Instagram and WhatsApp: Meta's webhooks in, Meta's APIs out.

Relais speaks to Meta directly, without Rasa's facebook connector (it checks
only the old SHA-1 signature, and has no way out for an agent's reply) nor
its Twilio connector for WhatsApp. WhatsApp goes through Meta's own WhatsApp
Cloud API rather than Twilio: a brand already on Messenger and Instagram
keeps one Meta app, one webhook secret and one signature check for all
three; replies can carry real buttons (Twilio's WhatsApp needs a content
template for each set of buttons); and there is no intermediary billing
every message of a surge on top of Meta's own prices. (A brand bound to
Twilio can still add Rasa's twilio connector in credentials.yml.)

Documented shapes (developers.facebook.com, Graph API v21.0):
- webhooks: `{"object": "page" | "instagram", "entry": [{"messaging": [...]}]}`
  and `{"object": "whatsapp_business_account", "entry": [{"changes":
  [{"value": {"messages": [...]}}]}]}`, signed in X-Hub-Signature-256;
- Send API: POST /me/messages {"recipient", "messaging_type", "message"}
  (quick replies: 13 at most, titles of 20 characters; text: 2000 characters
  on Messenger, 1000 bytes on Instagram);
- WhatsApp: POST /<phone number id>/messages {"messaging_product":
  "whatsapp", "to", "type": "text" | "interactive"} (text: 4096 characters;
  reply buttons: 3, titles of 20; list: 10 rows, titles of 24).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.provider import (
    Inbound,
    ProviderInput,
    ShapedOutput,
    meta_signature_ok,
    post_json,
)
from bot.channels.shaping import (
    Limits,
    button_title,
    button_titles,
    fit_buttons,
    utf8_bytes,
)

logger = logging.getLogger(__name__)

LIST_BUTTON = "Options"  # the same word in French and English
LIST_ROW_TITLE = 24
LIST_ROW_DESCRIPTION = 72
WHATSAPP_REPLY_BUTTONS = 3
WHATSAPP_LIST_ROWS = 10


# --- Messenger and Instagram ---------------------------------------------------


class SendApiOutput(ShapedOutput):
    """Meta's Send API, for Messenger and Instagram."""

    def token(self) -> str:
        raise NotImplementedError

    async def _send(self, to: str, message: dict[str, Any], tag: str | None) -> None:
        payload: dict[str, Any] = {
            "recipient": {"id": to},
            "messaging_type": "MESSAGE_TAG" if tag else "RESPONSE",
            "message": message,
        }
        if tag:
            payload["tag"] = tag
        await post_json(
            self.channel,
            f"{self.settings.graph_url}/me/messages",
            payload,
            params={"access_token": self.token()},
        )

    async def send_text(self, to: str, text: str, tag: str | None) -> None:
        await self._send(to, {"text": text}, tag)

    async def send_buttons(
        self, to: str, text: str, buttons: list[dict[str, Any]], tag: str | None
    ) -> None:
        buttons = fit_buttons(buttons, self.limits.buttons)
        replies = [
            {"content_type": "text", "title": title, "payload": _payload(button)}
            for button, title in zip(
                buttons, button_titles(buttons, self.limits.title), strict=True
            )
        ]
        await self._send(to, {"text": text, "quick_replies": replies}, tag)


class MessengerOutput(SendApiOutput):
    channel = "messenger"
    limits = Limits(text=2000, buttons=13, title=20)

    def token(self) -> str:
        return self.settings.messenger_token or ""


class InstagramOutput(SendApiOutput):
    channel = "instagram"
    limits = Limits(text=1000, buttons=13, title=20, measure=utf8_bytes)

    def token(self) -> str:
        return self.settings.instagram_token or ""


class MetaInput(ProviderInput):
    """A Meta webhook: the subscription check, the signature."""

    def verify(self, request: Request) -> HTTPResponse:
        """Meta's subscription check: echo hub.challenge when the token matches."""
        args = request.args
        expected = self.settings.meta_verify_token
        given = args.get("hub.verify_token") or ""
        if (
            expected
            and args.get("hub.mode") == "subscribe"
            # In constant time: the answer's timing tells nothing of the token.
            and hmac.compare_digest(given.encode(), expected.encode())
        ):
            return response.text(args.get("hub.challenge") or "")
        logger.warning(
            "%s subscription check refused: wrong verify token", self.channel
        )
        return response.text("Wrong verify token.", status=403)

    def signed(self, request: Request) -> bool:
        secret = self.settings.meta_app_secret
        header = request.headers.get("X-Hub-Signature-256")
        return bool(secret) and meta_signature_ok(secret or "", request.body, header)


class MessagingInput(MetaInput):
    """Messenger's and Instagram's webhook: `entry[].messaging[]`."""

    webhook_object = ""

    def inbound(self, body: dict[str, Any]) -> Iterable[Inbound]:
        if body.get("object") != self.webhook_object:
            return
        for entry in _dicts(body.get("entry")):
            for event in _dicts(entry.get("messaging")):
                sender = (event.get("sender") or {}).get("id")
                if not sender:
                    continue
                message = event.get("message")
                postback = event.get("postback")
                if isinstance(message, dict) and not message.get("is_echo"):
                    quick = message.get("quick_reply") or {}
                    text = quick.get("payload") or message.get("text") or ""
                    yield Inbound(str(sender), str(text), message.get("mid"))
                elif isinstance(postback, dict):
                    text = postback.get("payload") or postback.get("title") or ""
                    yield Inbound(str(sender), str(text), postback.get("mid"))
                # Deliveries, reads, reactions and the page's own echoes are
                # not messages from the person.


class MessengerInput(MessagingInput):
    channel = "messenger"
    webhook_object = "page"

    def output(self) -> ShapedOutput:
        return MessengerOutput(self.settings)


class InstagramInput(MessagingInput):
    channel = "instagram"
    webhook_object = "instagram"

    def output(self) -> ShapedOutput:
        return InstagramOutput(self.settings)


# --- WhatsApp (Cloud API) ------------------------------------------------------


class WhatsAppOutput(ShapedOutput):
    channel = "whatsapp"
    limits = Limits(
        text=4096, buttons=WHATSAPP_LIST_ROWS, title=20, text_with_buttons=1024
    )

    async def _send(self, to: str, fields: dict[str, Any]) -> None:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            **fields,
        }
        await post_json(
            self.channel,
            f"{self.settings.graph_url}/{self.settings.whatsapp_phone_number_id}"
            "/messages",
            payload,
            headers={"Authorization": f"Bearer {self.settings.whatsapp_token}"},
        )

    async def send_text(self, to: str, text: str, tag: str | None) -> None:
        # WhatsApp has no tags: past its window, the console sends nothing.
        await self._send(
            to, {"type": "text", "text": {"preview_url": False, "body": text}}
        )

    async def send_template(self, to: str, name: str, language: str) -> None:
        """An approved template, the only message past the 24-hour window."""
        await self._send(
            to,
            {
                "type": "template",
                "template": {"name": name, "language": {"code": language}},
            },
        )

    async def send_buttons(
        self, to: str, text: str, buttons: list[dict[str, Any]], tag: str | None
    ) -> None:
        """Up to 3 choices as reply buttons, more as a list (10 rows)."""
        buttons = fit_buttons(buttons, WHATSAPP_LIST_ROWS)
        body = {"text": text or "…"}
        if len(buttons) <= WHATSAPP_REPLY_BUTTONS:
            titles = button_titles(buttons, self.limits.title)
            action: dict[str, Any] = {
                "buttons": [
                    {"type": "reply", "reply": {"id": _payload(button), "title": title}}
                    for button, title in zip(buttons, titles, strict=True)
                ]
            }
            kind = "button"
        else:
            rows = []
            titles = button_titles(buttons, LIST_ROW_TITLE)
            for button, title in zip(buttons, titles, strict=True):
                row = {"id": _payload(button), "title": title}
                full = " ".join(str(button.get("title") or "").split())
                if full and full != row["title"]:
                    row["description"] = button_title(
                        {"title": full}, LIST_ROW_DESCRIPTION
                    )
                rows.append(row)
            action = {"button": LIST_BUTTON, "sections": [{"rows": rows}]}
            kind = "list"
        await self._send(
            to,
            {
                "type": "interactive",
                "interactive": {"type": kind, "body": body, "action": action},
            },
        )


def _payload(button: dict[str, Any]) -> str:
    return str(button.get("payload") or button.get("title") or "")


class WhatsAppInput(MetaInput):
    channel = "whatsapp"

    def output(self) -> ShapedOutput:
        return WhatsAppOutput(self.settings)

    def inbound(self, body: dict[str, Any]) -> Iterable[Inbound]:
        if body.get("object") != "whatsapp_business_account":
            return
        for entry in _dicts(body.get("entry")):
            for change in _dicts(entry.get("changes")):
                value = change.get("value") or {}
                # Status updates (sent, delivered, read) carry no `messages`.
                for message in _dicts(value.get("messages")):
                    sender = message.get("from")
                    if sender:
                        yield Inbound(
                            str(sender), _whatsapp_text(message), message.get("id")
                        )


def _whatsapp_text(message: dict[str, Any]) -> str:
    """What the person said: their text, or the button or row they chose.

    Pictures, voice notes and locations carry no text: the assistant then
    asks for the question in words.
    """
    kind = message.get("type")
    if kind == "text":
        return str((message.get("text") or {}).get("body") or "")
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        chosen = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return str(chosen.get("id") or chosen.get("title") or "")
    if kind == "button":  # a template's quick reply
        button = message.get("button") or {}
        return str(button.get("payload") or button.get("text") or "")
    return ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return (
        [item for item in value if isinstance(item, dict)]
        if isinstance(value, list)
        else []
    )
