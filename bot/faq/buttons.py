"""The "did you mean" buttons offered when the assistant is unsure."""

from __future__ import annotations

import json

from bot.faq.pack import Topic

HUMAN_BUTTON_TITLES = {
    "fr": "Autre chose : parler à un conseiller",
    "en": "Something else: talk to an agent",
}
# For channels whose buttons show 20 characters (Messenger, WhatsApp).
HUMAN_BUTTON_SHORT_TITLES = {"fr": "Parler à un humain", "en": "Talk to a person"}


def faq_payload(topic: str) -> str:
    """The message a button sends: the `faq` intent with the chosen topic."""
    return "/faq" + json.dumps({"faq_topic": topic}, separators=(",", ":"))


def clarification_buttons(
    candidates: list[str], pack: dict[str, Topic], language: str
) -> list[dict[str, str]]:
    """One button per known, enabled candidate topic, then one to reach a human.

    Args:
        candidates: Topic keys, best first.
        pack: The FAQ pack.
        language: "fr" or "en", for the titles.

    Returns:
        Buttons in Rasa's format ({"title": ..., "payload": ...}); the last
        one has a `short_title` too (bot/channels/shaping.py).
    """
    buttons = [
        {"title": pack[topic].title(language), "payload": faq_payload(topic)}
        for topic in candidates
        if topic in pack and pack[topic].enabled
    ]
    buttons.append(
        {
            "title": HUMAN_BUTTON_TITLES.get(language, HUMAN_BUTTON_TITLES["fr"]),
            "payload": "/request_human",
            "short_title": HUMAN_BUTTON_SHORT_TITLES.get(
                language, HUMAN_BUTTON_SHORT_TITLES["fr"]
            ),
        }
    )
    return buttons
