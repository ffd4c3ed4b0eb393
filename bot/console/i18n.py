"""The console's words in French and English.

Templates and console code write English and ask `Words` for the viewer's
language: `_("Sent.")`, `_("Ticket {id}", id=3)`, and
`ngettext("{n} person", "{n} people", n)`. The French is in
`locale/fr.yml` (English text -> French text); a text it lacks is shown in
English, and `tests/test_console_language.py` fails for any text a
template marks that the French lacks.

Codes the database holds (reasons, priorities, statuses, channels, moods)
are shown as words: `words.code("reason", "self_harm")` -> "Détresse".

Each account chooses its language (the header's switch); an account that
has not chosen gets the console's default: RELAIS_CONSOLE_LANGUAGE, else
French, the language Relais' community managers work in first.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.insights.labels import LABELS

LANGUAGES = ("fr", "en")
LOCALE_DIR = Path(__file__).parent / "locale"

# Codes that bot/insights/labels.py does not name (the report has no use for them).
CODES: dict[str, dict[str, str]] = {
    "fr": {
        "status.waiting": "en attente",
        "status.assigned": "pris en charge",
        "status.closed": "clos",
        "status.abandoned": "abandonné",
        "channel.socketio": "chat du site",
        "channel.rest": "API REST",
        "channel.messenger": "Messenger",
        "channel.instagram": "Instagram",
        "channel.whatsapp": "WhatsApp",
        "channel.telegram": "Telegram",
        "mood.negative": "négatif",
        "mood.angry": "en colère",
        "mood.neutral": "",
        "role.agent": "agent",
        "role.editor": "éditeur",
        "role.admin": "admin",
        "who.user": "personne",
        "who.bot": "bot",
        "who.agent": "agent",
        "who.event": "événement",
    },
    "en": {
        "status.waiting": "waiting",
        "status.assigned": "assigned",
        "status.closed": "closed",
        "status.abandoned": "abandoned",
        "channel.socketio": "web chat",
        "channel.rest": "REST API",
        "channel.messenger": "Messenger",
        "channel.instagram": "Instagram",
        "channel.whatsapp": "WhatsApp",
        "channel.telegram": "Telegram",
        "mood.negative": "negative",
        "mood.angry": "angry",
        "mood.neutral": "",
        "role.agent": "agent",
        "role.editor": "editor",
        "role.admin": "admin",
        "who.user": "person",
        "who.bot": "bot",
        "who.agent": "agent",
        "who.event": "event",
    },
}
CODE_KINDS = ("reason", "priority", "status", "channel", "mood", "language", "role")


@cache
def catalogue(language: str) -> dict[str, str]:
    """English text -> its translation (empty for English)."""
    path = LOCALE_DIR / f"{language}.yml"
    if language == "en" or not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(key): str(value) for key, value in loaded.items()}


def choose(language: str | None, default: str = "fr") -> str:
    """`language` if the console speaks it, else `default` (else French)."""
    if language in LANGUAGES:
        return str(language)
    return default if default in LANGUAGES else "fr"


class Words:
    """What the console says, in one language."""

    def __init__(self, language: str) -> None:
        self.language = choose(language)
        self._table = catalogue(self.language)

    def gettext(self, message: str, /, **values: Any) -> str:
        translated = self._table.get(message, message)
        return translated.format(**values) if values else translated

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        # French counts 0 and 1 in the singular ("0 message", "1 message").
        one = n <= 1 if self.language == "fr" else n == 1
        return self.gettext(singular if one else plural, n=n, **values)

    def code(self, kind: str, value: str | None) -> str:
        """A stored code as a word: ("reason", "self_harm") -> "Distress"."""
        if value is None:
            return ""
        key = f"{kind}.{value}"
        for table in (CODES[self.language], LABELS[self.language]):
            if key in table:
                return table[key]
        return value.replace("_", " ")

    def codes(self) -> dict[str, str]:
        """Every code's word, for the pages' scripts."""
        found = {
            key: value
            for table in (LABELS[self.language], CODES[self.language])
            for key, value in table.items()
            if key.split(".", 1)[0] in CODE_KINDS
        }
        return found
