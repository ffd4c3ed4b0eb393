"""Who is signed in, what their role allows, CSRF tokens and security headers.

Sessions are Starlette's signed cookies (HttpOnly, SameSite=Strict, Secure
outside local mode) holding only the account name and a CSRF token; the
account is read from the database on every request, so a removed account or a
changed role takes effect at once.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.console import accounts
from bot.db import get_session_factory
from bot.settings import Settings

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Viewer:
    """The signed-in account, as the pages need it."""

    name: str
    display_name: str
    role: str
    language: str = "fr"  # the console's language for this person


def client_address(request: Request, trusted_proxies: frozenset[str]) -> str:
    """Who sent the request: the direct peer, unless it is a trusted proxy
    (nginx on loopback), then the last X-Forwarded-For address that no
    trusted proxy added (the ones before it, the client may have written)."""
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    for address in reversed([a.strip() for a in forwarded.split(",")]):
        if address and address not in trusted_proxies:
            return address
    return peer


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return str(token)


async def check_csrf(request: Request) -> FormData | None:
    """Refuses a POST whose token does not match the session's (403).

    Returns the parsed form when the token came in one.
    """
    expected = request.session.get(CSRF_FIELD) or ""
    given = request.headers.get(CSRF_HEADER, "")
    form = None
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        given = str(form.get(CSRF_FIELD) or "")
    if not expected or not hmac.compare_digest(str(expected), given):
        raise HTTPException(403, "The form expired or came from elsewhere: reload.")
    return form


def unix_lines(form: FormData) -> FormData:
    """The form with every text field's line breaks as "\n".

    Browsers send a textarea's line breaks as CRLF; the FAQ files, the answers
    already live and the diffs use LF. Left as sent, every topic saved from
    the console differed from its file ("changed outside Relais") and from
    the answer it replaced in the reviewer's diff.
    """
    return FormData(
        [
            (name, value.replace("\r\n", "\n").replace("\r", "\n"))
            if isinstance(value, str)
            else (name, value)
            for name, value in form.multi_items()
        ]
    )


def _load_viewer(settings: Settings, name: str, version: int) -> Viewer | None:
    """The signed-in person, or None when their account is gone, disabled, or
    had its password changed since this session began."""
    with get_session_factory(settings.database_url).begin() as session:
        agent = accounts.find_agent(session=session, name=name)
        if agent is None or agent.is_disabled or agent.session_version != version:
            return None
        return Viewer(
            agent.name,
            agent.display_name,
            agent.role,
            agent.language or settings.console_language,
        )


async def current_viewer(request: Request) -> Viewer | None:
    name = request.session.get("agent")
    if not name:
        return None
    version = request.session.get("version", 0)
    viewer = await run_in_threadpool(
        _load_viewer, settings_of(request), str(name), int(version or 0)
    )
    if viewer is None:
        request.session.clear()  # ended: the cookie is emptied too
    return viewer


Endpoint = Callable[..., Awaitable[Response]]


def requires(roles: frozenset[str]) -> Callable[[Endpoint], Endpoint]:
    """Signed in with one of `roles`, else 401 (or the sign-in page) / 403.

    POST requests must also carry the session's CSRF token; the parsed form is
    passed to the endpoint as `form`.
    """

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            viewer = await current_viewer(request)
            if viewer is None:
                if request.method == "GET" and "text/html" in request.headers.get(
                    "accept", ""
                ):
                    target = quote(request.url.path, safe="/")
                    return RedirectResponse(f"/login?next={target}", status_code=303)
                raise HTTPException(401, "Sign in first.")
            if viewer.role not in roles:
                raise HTTPException(403, "Your role does not allow this page.")
            kwargs: dict[str, Any] = {"viewer": viewer}
            if request.method == "POST":
                form = await check_csrf(request) or await request.form()
                kwargs["form"] = unix_lines(form)
            return await endpoint(request, **kwargs)

        return guarded

    return decorate


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session["flash"] = {"message": message, "kind": kind}


def take_flash(request: Request) -> dict[str, str] | None:
    value = request.session.pop("flash", None)
    return value if isinstance(value, dict) else None


# The public chat page, which brands frame on their own sites (embed.js).
FRAMEABLE = "/chat"


class SecurityHeaders:
    """CSP without inline scripts, no framing (but the public chat's), no
    sniffing, same-origin referrers."""

    def __init__(self, app: ASGIApp, connect_sources: str) -> None:
        self.app = app

        def policy(ancestors: str) -> tuple[bytes, bytes]:
            return (
                b"content-security-policy",
                (
                    "default-src 'self'; script-src 'self'; style-src 'self'; "
                    f"img-src 'self' data:; connect-src 'self' {connect_sources}; "
                    f"frame-ancestors {ancestors}; base-uri 'none'; "
                    "form-action 'self'"
                ).encode(),
            )

        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        self.headers = [policy("'none'"), (b"x-frame-options", b"DENY"), *common]
        self.frameable_headers = [policy("*"), *common]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = self.frameable_headers if scope["path"] == FRAMEABLE else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
