"""Local stand-ins for Meta's Graph API and Telegram's Bot API.

The providers cannot be reached from the test machines. This server answers
what Relais sends them the way they document it: it checks each request
against the documented shape and limits (a request that breaks one is
answered with the provider's error, as the real API would, and recorded as
refused), and answers a good one with the documented success body.

Documented limits checked (developers.facebook.com/docs/messenger-platform,
/docs/whatsapp/cloud-api, core.telegram.org/bots/api):
- Send API: recipient.id; messaging_type RESPONSE, UPDATE or MESSAGE_TAG
  (with a tag); text 1-2000 characters (Instagram: 1000 bytes); 13 quick
  replies at most, content_type "text", titles 1-20 characters, payloads at
  most 1000 characters;
- WhatsApp: messaging_product "whatsapp"; text body 1-4096 characters; a
  template's name and language code;
  interactive body 1-1024; 1-3 reply buttons with titles 1-20, unique, ids
  at most 256; a list: button label 1-20, 1-10 rows, titles 1-24,
  descriptions at most 72, ids at most 200, unique;
- Telegram: chat_id; text 1-4096 characters; inline buttons with a text
  and callback_data of 1-64 bytes; setWebhook's secret_token 1-256 of
  A-Z a-z 0-9 _ -.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GRAPH_VERSION = "v21.0"
SEND_API_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}


@dataclass
class Call:
    """One request Relais made to a provider."""

    provider: str  # messenger, instagram, whatsapp, telegram
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    refused: str | None = None  # why the provider would refuse it
    deliberate: bool = False  # refused because a test asked (`failing`)


@dataclass
class Accounts:
    """The brand's accounts the stand-in knows (the tests' .env)."""

    messenger_token: str
    instagram_token: str
    whatsapp_token: str
    whatsapp_phone_number_id: str
    telegram_token: str


@dataclass
class StandIn:
    url: str
    accounts: Accounts
    calls: list[Call] = field(default_factory=list)
    # Provider -> the error the next sends get (to try a provider's refusal).
    failing: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def graph_url(self) -> str:
        return f"{self.url}/{GRAPH_VERSION}"

    def sent(self, provider: str, to: str | None = None) -> list[Call]:
        with self.lock:
            return [
                call
                for call in self.calls
                if call.provider == provider
                and call.refused is None
                and (to is None or recipient(call) == to)
            ]

    def wait_for(
        self, provider: str, to: str, count: int, timeout: float = 120
    ) -> list[Call]:
        """The first `count` messages sent to `to`, once they have arrived
        (waiting is not a speed check: a slow machine only waits longer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = [c for c in self.sent(provider, to) if is_message(c)]
            if len(calls) >= count:
                time.sleep(0.5)  # anything else of the same turn
                return [c for c in self.sent(provider, to) if is_message(c)]
            time.sleep(0.1)
        raise AssertionError(
            f"{provider} got {len(self.sent(provider, to))} of {count} messages "
            f"for {to}: {self.sent(provider, to)}"
        )

    def refused(self) -> list[Call]:
        """What the provider would have refused of Relais' own accord."""
        with self.lock:
            return [call for call in self.calls if call.refused and not call.deliberate]


def recipient(call: Call) -> str | None:
    body = call.body if isinstance(call.body, dict) else {}
    if call.provider in ("messenger", "instagram"):
        return str((body.get("recipient") or {}).get("id"))
    if call.provider == "whatsapp":
        return str(body.get("to"))
    chat = body.get("chat_id")
    return None if chat is None else str(chat)


def is_message(call: Call) -> bool:
    return not call.path.endswith(("answerCallbackQuery", "setWebhook"))


def text_of(call: Call) -> str:
    """The text a person reads in one sent message."""
    body = call.body
    if call.provider in ("messenger", "instagram"):
        return str(body["message"].get("text", ""))
    if call.provider == "whatsapp":
        if body["type"] == "text":
            return str(body["text"]["body"])
        if body["type"] == "template":
            return f"template {body['template']['name']}"
        return str(body["interactive"]["body"]["text"])
    return str(body.get("text", ""))


def sign(secret: str, body: bytes) -> str:
    """Meta's X-Hub-Signature-256 of `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- the documented rules ----------------------------------------------------


def _check_send_api(body: dict[str, Any], instagram: bool) -> str | None:
    if not (body.get("recipient") or {}).get("id"):
        return "(#100) The parameter recipient is required"
    kind = body.get("messaging_type")
    if kind not in SEND_API_TYPES:
        return (
            "(#100) Param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG"
        )
    if kind == "MESSAGE_TAG" and not body.get("tag"):
        return "(#100) Tag is required for MESSAGE_TAG"
    message = body.get("message") or {}
    text = message.get("text")
    if not isinstance(text, str) or not text:
        return "(#100) Message cannot be empty, must provide valid attachment or text"
    size = len(text.encode()) if instagram else len(text)
    if size > (1000 if instagram else 2000):
        return "(#100) Length of param message[text] must be less than or equal to 2000"
    replies = message.get("quick_replies")
    if replies is not None:
        if not isinstance(replies, list) or not 1 <= len(replies) <= 13:
            return "(#100) param message[quick_replies] must have at most 13 elements"
        for reply in replies:
            if reply.get("content_type") != "text":
                return "(#100) quick_replies[content_type] must be text"
            if not 1 <= len(reply.get("title") or "") <= 20:
                return "(#100) Quick reply titles must be 20 characters or fewer"
            if not 1 <= len(reply.get("payload") or "") <= 1000:
                return "(#100) Quick reply payloads must be 1000 characters or fewer"
    return None


def _check_whatsapp(body: dict[str, Any]) -> str | None:
    if body.get("messaging_product") != "whatsapp":
        return "(#100) The parameter messaging_product is required."
    if not body.get("to"):
        return "(#100) The parameter to is required."
    kind = body.get("type")
    if kind == "text":
        text = (body.get("text") or {}).get("body") or ""
        return None if 1 <= len(text) <= 4096 else "(#100) text.body: 1-4096 chars"
    if kind == "template":
        template = body.get("template") or {}
        if not re.fullmatch(r"[a-z0-9_]{1,512}", template.get("name") or ""):
            return "(#132001) Template name does not exist in the translation"
        if not (template.get("language") or {}).get("code"):
            return "(#100) The parameter template[language][code] is required."
        return None
    if kind != "interactive":
        return f"(#100) Unsupported message type {kind!r}"
    interactive = body.get("interactive") or {}
    text = (interactive.get("body") or {}).get("text") or ""
    if not 1 <= len(text) <= 1024:
        return "(#131009) interactive.body.text: 1-1024 characters"
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            return "(#131009) action.buttons: 1-3 buttons"
        titles = [b.get("reply", {}).get("title") or "" for b in buttons]
        if any(not 1 <= len(t) <= 20 for t in titles):
            return "(#131009) Button title length invalid (1-20)"
        if len(set(titles)) != len(titles):
            return "(#131009) Button titles must be unique"
        if any(
            not 1 <= len(b.get("reply", {}).get("id") or "") <= 256 for b in buttons
        ):
            return "(#131009) Button id length invalid (1-256)"
        return None
    if interactive.get("type") == "list":
        if not 1 <= len(action.get("button") or "") <= 20:
            return "(#131009) action.button: 1-20 characters"
        rows = [
            row for s in action.get("sections") or [] for row in s.get("rows") or []
        ]
        if not 1 <= len(rows) <= 10:
            return "(#131009) Total row count exceed max allowed count: 10"
        for row in rows:
            if not 1 <= len(row.get("title") or "") <= 24:
                return "(#131009) Row title length invalid (1-24)"
            if len(row.get("description") or "") > 72:
                return "(#131009) Row description length invalid (at most 72)"
            if not 1 <= len(row.get("id") or "") <= 200:
                return "(#131009) Row id length invalid (1-200)"
        if len({row["id"] for row in rows}) != len(rows):
            return "(#131009) Row ids must be unique"
        return None
    return "(#131009) interactive.type must be button or list"


def _check_telegram(method: str, body: dict[str, Any]) -> str | None:
    if method == "answerCallbackQuery":
        return None if body.get("callback_query_id") else "Bad Request: query is empty"
    if method == "setWebhook":
        secret = body.get("secret_token") or ""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            return "Bad Request: secret token contains unallowed characters"
        url = body.get("url") or ""
        return (
            None
            if url.startswith("https://")
            else "Bad Request: bad webhook: HTTPS url must be provided for webhook"
        )
    if method != "sendMessage":
        return f"Not Found: method {method} not found"
    if body.get("chat_id") in (None, ""):
        return "Bad Request: chat_id is empty"
    if not 1 <= len(body.get("text") or "") <= 4096:
        return "Bad Request: message text is empty or too long"
    markup = body.get("reply_markup")
    if markup is not None:
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                if not button.get("text"):
                    return (
                        "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = (button.get("callback_data") or "").encode()
                if not 1 <= len(data) <= 64:
                    return "Bad Request: BUTTON_DATA_INVALID"
    return None


# --- the server --------------------------------------------------------------


def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    accounts = stand_in.accounts

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as the providers' APIs; headers and body are two
        # writes, which Nagle would hold for the client's delayed ACK.
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            status, answer, call = self._route(split.path, query, body)
            if call is not None:
                with stand_in.lock:
                    stand_in.calls.append(call)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(
            self, path: str, query: dict[str, str], body: Any
        ) -> tuple[int, dict[str, Any], Call | None]:
            headers = dict(self.headers.items())
            graph = f"/{GRAPH_VERSION}/"
            if path == f"{graph}me/messages":
                token = query.get("access_token")
                provider = {
                    accounts.messenger_token: "messenger",
                    accounts.instagram_token: "instagram",
                }.get(token or "")
                if provider is None:
                    return 400, _meta_error("Invalid OAuth access token.", 190), None
                call = Call(provider, path, query, headers, body)
                return self._meta(
                    call, _check_send_api(body or {}, provider == "instagram")
                )
            if path == f"{graph}{accounts.whatsapp_phone_number_id}/messages":
                if headers.get("Authorization") != f"Bearer {accounts.whatsapp_token}":
                    return 401, _meta_error("Invalid OAuth access token.", 190), None
                call = Call("whatsapp", path, query, headers, body)
                return self._meta(call, _check_whatsapp(body or {}))
            prefix = f"/bot{accounts.telegram_token}/"
            if path.startswith("/bot"):
                if not path.startswith(prefix):
                    return (
                        401,
                        {"ok": False, "error_code": 401, "description": "Unauthorized"},
                        None,
                    )
                method = path[len(prefix) :]
                call = Call("telegram", path, query, headers, body)
                refused = _check_telegram(method, body or {})
                failing = stand_in.failing.get("telegram")
                if refused is None and failing and method == "sendMessage":
                    refused, call.deliberate = failing["description"], True
                call.refused = refused
                if refused:
                    return (
                        400,
                        {"ok": False, "error_code": 400, "description": refused},
                        call,
                    )
                result: Any = True
                if method == "sendMessage":
                    result = {
                        "message_id": len(stand_in.calls) + 1,
                        "chat": {"id": body["chat_id"]},
                        "text": body["text"],
                    }
                return 200, {"ok": True, "result": result}, call
            return 404, _meta_error(f"Unknown path {path}", 803), None

        def _meta(
            self, call: Call, refused: str | None
        ) -> tuple[int, dict[str, Any], Call]:
            failing = stand_in.failing.get(call.provider)
            if refused is None and failing:
                refused, call.deliberate = failing["message"], True
            call.refused = refused
            if refused:
                return 400, _meta_error(refused, 100), call
            if call.provider == "whatsapp":
                to = call.body["to"]
                return (
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": to, "wa_id": to}],
                        "messages": [{"id": f"wamid.{len(stand_in.calls)}"}],
                    },
                    call,
                )
            return (
                200,
                {
                    "recipient_id": call.body["recipient"]["id"],
                    "message_id": f"m_{len(stand_in.calls)}",
                },
                call,
            )

    return Handler


def _meta_error(message: str, code: int) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "stand-in",
        }
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of answers, as a surge sends


@contextmanager
def provider_stand_in(accounts: Accounts) -> Iterator[StandIn]:
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    stand_in = StandIn(f"http://127.0.0.1:{server.server_address[1]}", accounts)
    server.RequestHandlerClass = _handler(stand_in)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
