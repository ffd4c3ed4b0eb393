"""The crisis profile: who speaks and about what, read from `<pack>/profile.yml`.

Every public message that names the brand, the crisis, a phone number or an
emergency number takes it from here, so a new crisis is a new pack folder
(FAQ, profile, held-out questions) and no edit to `domain.yml` or Python.
`domain.yml` holds the sentences with placeholders ({brand}, {about}, ...);
the actions fill them with `Profile.placeholders(language)`.

A missing or bad field raises `ProfileError` naming the file and the field, so
`relais config check` (run by `make run`) stops with a message a person can
act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("fr", "en")
PROFILE_FILE = "profile.yml"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ProfileError(ValueError):
    """The profile is missing or malformed; the message names the field."""


@dataclass(frozen=True)
class Team:
    """When community managers answer, as written in the profile."""

    hours: str  # "08:00-20:00"
    days: str  # "mon-sun", "mon-fri", "mon,wed,fri"
    timezone: str  # "Europe/Paris"


@dataclass(frozen=True)
class Profile:
    """One crisis: the brand, its scope, its contacts and emergency guidance."""

    brand: str
    # Completes "I can only answer questions about ...".
    about: dict[str, str]
    # What the FAQ covers, in a few words: "affected products, refunds, health".
    covers: dict[str, str]
    # A question the bot can answer, given as an example when it did not understand.
    example_question: dict[str, str]
    phone: str
    email: str
    contact_hours: dict[str, str]
    team: Team
    # Sent before anything else to a person in danger, by trigger.
    emergency_health: dict[str, str]
    emergency_self_harm: dict[str, str]

    def placeholders(self, language: str) -> dict[str, str]:
        """The values `domain.yml`'s responses name, in `language`."""
        language = language if language in LANGUAGES else "fr"
        return {
            "brand": self.brand,
            "about": self.about[language],
            "covers": self.covers[language],
            "example": self.example_question[language],
            "phone": self.phone,
            "email": self.email,
            "hours": self.contact_hours[language],
        }

    def emergency(self, kind: str, language: str) -> str:
        """The guidance for `kind` ("health" or "self_harm") in `language`."""
        texts = self.emergency_health if kind == "health" else self.emergency_self_harm
        return texts[language if language in LANGUAGES else "fr"]


def load_profile(pack_dir: Path) -> Profile:
    """Reads and checks `<pack_dir>/profile.yml`.

    Raises:
        ProfileError: The file is missing, not YAML, or a field is missing or bad.
    """
    path = pack_dir / PROFILE_FILE
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(
            f"{path} is missing: every pack needs a profile (brand, scope, "
            "contacts, emergency numbers); copy one from packs/."
        ) from None
    except yaml.YAMLError as error:
        raise ProfileError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(content, dict):
        raise ProfileError(f"{path}: expected fields such as brand: and about:")
    fields = _Fields(path, content)
    email = fields.text("contact", "email")
    if not _EMAIL.match(email):
        raise ProfileError(f"{path}: contact.email {email!r} is not an e-mail address")
    return Profile(
        brand=fields.text("brand"),
        about=fields.both_languages("about"),
        covers=fields.both_languages("covers"),
        example_question=fields.both_languages("example_question"),
        phone=fields.text("contact", "phone"),
        email=email,
        contact_hours=fields.both_languages("contact", "hours"),
        team=Team(
            hours=fields.text("team", "hours"),
            days=fields.text("team", "days"),
            timezone=fields.text("team", "timezone"),
        ),
        emergency_health=fields.both_languages("emergency", "health"),
        emergency_self_harm=fields.both_languages("emergency", "self_harm"),
    )


class _Fields:
    """Reads nested fields, naming the missing one in the error."""

    def __init__(self, path: Path, content: dict[str, Any]) -> None:
        self.path = path
        self.content = content

    def _value(self, keys: tuple[str, ...]) -> Any:
        value: Any = self.content
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ProfileError(f"{self.path}: {'.'.join(keys)} is missing")
        return value

    def text(self, *keys: str) -> str:
        value = self._value(keys)
        if not isinstance(value, (str, int, float)):
            raise ProfileError(f"{self.path}: {'.'.join(keys)} must be a text")
        return str(value).strip()

    def both_languages(self, *keys: str) -> dict[str, str]:
        value = self._value(keys)
        if not isinstance(value, dict):
            raise ProfileError(
                f"{self.path}: {'.'.join(keys)} needs a French and an English "
                "text (fr: ..., en: ...)"
            )
        return {language: self.text(*keys, language) for language in LANGUAGES}
