"""A small client for the Rasa server's HTTP API (conversations, domain).

Used server-side only (the command line, later the console): the token never
leaves the machine. Every failure becomes a `RasaError` whose message tells a
person what to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

TIMEOUT_SECONDS = 15
# RFC 3986's sub-delimiters, ":" and "@": allowed as such in a path segment.
PATH_SAFE = ":@!$&'()*+,;="
# Parsed once by a freshly loaded model, so that the first person to write
# does not wait for TensorFlow and spaCy to warm up (seconds).
WARM_UP_TEXTS = ("Bonjour, j'ai une question", "Hello, I have a question")


class RasaError(Exception):
    """The Rasa server could not do what was asked; the message says why."""


class RasaUnreachable(RasaError):
    """Nothing answers at the Rasa URL (not started, or wrong URL)."""


@dataclass(frozen=True)
class RasaClient:
    url: str
    token: str
    timeout: float = TIMEOUT_SECONDS

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        params = {"token": self.token, **kwargs.pop("params", {})}
        try:
            response = requests.request(
                method,
                f"{self.url}{path}",
                params=params,
                timeout=self.timeout,
                headers={"Accept": "application/json"},
                **kwargs,
            )
        except requests.RequestException as error:
            raise RasaUnreachable(
                f"Rasa is not reachable at {self.url} ({type(error).__name__}): "
                "is it running (`make run`)?"
            ) from None
        if response.status_code in (401, 403):
            raise RasaError(
                f"Rasa at {self.url} refused the token: check RASA_TOKEN in .env."
            )
        if response.status_code >= 400:
            raise RasaError(
                f"Rasa answered {response.status_code} to {method} {path}: "
                f"{response.text[:300]}"
            )
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError:
            raise RasaError(
                f"Rasa sent something that is not JSON for {path}."
            ) from None

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        # Rasa (Sanic) does not decode the id in the path: characters a path
        # segment may hold stay as they are ("messenger:123" must arrive as
        # such, not as "messenger%3A123", another conversation).
        return f"/conversations/{quote(conversation_id, safe=PATH_SAFE)}"

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation with every event since its last restart."""
        result: dict[str, Any] = self._request(
            "GET",
            f"{self._conversation(conversation_id)}/tracker",
            params={"include_events": "AFTER_RESTART"},
        )
        return result

    def is_paused(self, conversation_id: str) -> bool:
        """Whether the bot is paused in the conversation (no events fetched)."""
        result: dict[str, Any] = self._request(
            "GET",
            f"{self._conversation(conversation_id)}/tracker",
            params={"include_events": "NONE"},
        )
        return bool(result.get("paused"))

    def append_events(
        self,
        conversation_id: str,
        events: list[dict[str, Any]],
        channel: str = "latest",
    ) -> dict[str, Any]:
        """Appends events; bot messages among them go out on `channel`.

        `channel` is the channel the person writes on (the ticket's): Rasa
        sends the bot messages through it (live over socket.io, Messenger,
        WhatsApp...; over REST they are in the tracker), and
        `execute_side_effects` makes Rasa actually send them. ("latest", the
        channel of the last user message, is not enough: once the
        conversation's session has expired, Rasa reads only the new session,
        which has no user message yet, and would send nowhere.)
        """
        result: dict[str, Any] = self._request(
            "POST",
            f"{self._conversation(conversation_id)}/tracker/events",
            params={"output_channel": channel, "execute_side_effects": "true"},
            json=events,
        )
        return result

    def domain(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/domain")
        return result

    def status(self) -> dict[str, Any]:
        """The loaded model: `model_file` (its name) and `model_id`."""
        result: dict[str, Any] = self._request("GET", "/status")
        return result

    def warm_up(self) -> None:
        """Has the loaded model parse a few messages (no conversation is
        touched): its first real message is then answered at full speed."""
        for text in WARM_UP_TEXTS:
            self._request("POST", "/model/parse", json={"text": text})

    def load_model(self, model_file: str) -> None:
        """Loads a model into the running server (Rasa's `PUT /model`).

        Rasa builds the new agent, then swaps it in; conversations live in the
        tracker store and the lock store is kept, so none is dropped. Messages
        that arrive while the model loads wait for it (seconds), they are not
        lost. `model_file` is a path on the Rasa server's machine.
        """
        self._request("PUT", "/model", json={"model_file": model_file})


def offered_buttons(event: dict[str, Any]) -> list[dict[str, str]]:
    """The buttons (or quick replies) a tracker's bot event offered, each its
    title and payload: what a pressed button's payload reads as."""
    data = event.get("data") or {}
    return [
        {"title": str(b.get("title") or ""), "payload": str(b.get("payload") or "")}
        for b in (data.get("buttons") or data.get("quick_replies") or [])
        if isinstance(b, dict)
    ]
