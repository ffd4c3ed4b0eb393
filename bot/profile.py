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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("fr", "en")
PROFILE_FILE = "profile.yml"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COLOUR = re.compile(r"^#(?:[0-9a-f]{3}|[0-9a-f]{6})$")
# WCAG 2.1 AA for normal text.
MIN_CONTRAST = 4.5
# Most FAQ questions answered with the wrong topic, as a share: the targets
# the gate is calibrated for (bot/nlu/calibration.py). 3 % unless the brand
# chooses stricter; stricter answers fewer questions directly.
WRONG_ANSWER_TARGETS = (0.01, 0.02, 0.03)


class ProfileError(ValueError):
    """The profile is missing or malformed; the message names the field."""


@dataclass(frozen=True)
class Team:
    """When community managers answer, as written in the profile."""

    hours: str  # "08:00-20:00"
    days: str  # "mon-sun", "mon-fri", "mon,wed,fri"
    timezone: str  # "Europe/Paris"


@dataclass(frozen=True)
class Colours:
    """The web chat's colours: the brand's, and the text written on it."""

    brand: str = "#123c69"
    text: str = "#ffffff"


DEFAULT_TARGET_MINUTES = {"urgent": 5, "high": 15, "normal": 60}


@dataclass(frozen=True)
class ResponseTargets:
    """Minutes of opening hours a person may wait for a human, by priority:
    for the first reply, and for the next one after they write again
    (bot/handoff/sla.py)."""

    first: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TARGET_MINUTES))
    next: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TARGET_MINUTES))


SCALES = ("stars", "thumbs")
# Reasons after which nobody is asked how the exchange went: a person who
# got sick, or in distress, is not surveyed (the brand may change it).
DEFAULT_NOT_ASKED_AFTER = ("health", "self_harm")


@dataclass(frozen=True)
class Satisfaction:
    """How a person is asked about the exchange once a human hands the
    conversation back (bot/handoff/satisfaction.py)."""

    ask: bool = True
    # "stars": 1 to 5; "thumbs": 👍 / 👎.
    scale: str = "stars"
    not_after: tuple[str, ...] = DEFAULT_NOT_ASKED_AFTER


DEFAULT_TEAMS = {
    "press": {"fr": "Presse", "en": "Press"},
    "legal": {"fr": "Juridique", "en": "Legal"},
    "english": {"fr": "Anglophones", "en": "English speakers"},
}


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
    # The web chat's colours (optional in the file).
    colours: Colours = field(default_factory=Colours)
    # Most questions answered with the wrong topic (optional; 0.03).
    wrong_answers_at_most: float = 0.03
    # The console's language for accounts that have not chosen one.
    console_language: str = "fr"
    # A "keep me posted" button under every FAQ answer (optional; off). On
    # Messenger and Instagram an answer with a button is a button template,
    # whose text holds 640 characters: longer answers come in two messages.
    updates_button: bool = False
    # Response targets (optional; 5 / 15 / 60 minutes by priority).
    response_targets: ResponseTargets = field(default_factory=ResponseTargets)
    # Auto-assignment (optional; off): the next waiting conversation goes to
    # the available agent with the fewest open ones, up to this many each.
    auto_assign: bool = False
    max_open_per_agent: int = 5
    # Asked after a human hands back (optional; 1 to 5, not after health or
    # self-harm).
    satisfaction: Satisfaction = field(default_factory=Satisfaction)
    # Teams a conversation can be transferred to, key -> name by language
    # (optional; press, legal, English speakers).
    teams: dict[str, dict[str, str]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_TEAMS.items()}
    )

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
        colours=_colours(path, content.get("colours")),
        wrong_answers_at_most=_wrong_answers(
            path, content.get("wrong_answers_at_most")
        ),
        console_language=_console_language(path, content.get("console_language")),
        updates_button=_switch(path, "updates_button", content.get("updates_button")),
        response_targets=_targets(path, content.get("response_targets")),
        auto_assign=_switch(path, "auto_assign", content.get("auto_assign")),
        max_open_per_agent=_count(
            path, "max_open_per_agent", content.get("max_open_per_agent"), 5
        ),
        satisfaction=_satisfaction(path, content.get("satisfaction")),
        teams=_teams(path, content.get("teams")),
    )


def _satisfaction(path: Path, value: Any) -> Satisfaction:
    """`satisfaction:` {ask: true, scale: stars|thumbs, not_after: [health,
    self_harm]}; what is missing keeps its default."""
    if value is None:
        return Satisfaction()
    if not isinstance(value, dict) or set(value) - {"ask", "scale", "not_after"}:
        raise ProfileError(
            f"{path}: satisfaction has ask (true or false), scale (stars or "
            "thumbs) and not_after (reasons, such as [health, self_harm])"
        )
    ask = value.get("ask", True)
    if not isinstance(ask, bool):
        raise ProfileError(f"{path}: satisfaction.ask {ask!r} must be true or false")
    scale = str(value.get("scale", "stars")).strip().lower()
    if scale not in SCALES:
        raise ProfileError(
            f"{path}: satisfaction.scale {scale!r} must be stars (1 to 5) or thumbs"
        )
    not_after = value.get("not_after", list(DEFAULT_NOT_ASKED_AFTER))
    if not isinstance(not_after, list) or not all(
        isinstance(reason, str) for reason in not_after
    ):
        raise ProfileError(
            f"{path}: satisfaction.not_after is a list of reasons, such as "
            "[health, self_harm] ([] asks after every handoff)"
        )
    return Satisfaction(ask=ask, scale=scale, not_after=tuple(not_after))


_TEAM_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _teams(path: Path, value: Any) -> dict[str, dict[str, str]]:
    """`teams:` {press: {fr: Presse, en: Press}, ...}: replaces the defaults."""
    if value is None:
        return {k: dict(v) for k, v in DEFAULT_TEAMS.items()}
    if not isinstance(value, dict):
        raise ProfileError(
            f"{path}: teams maps a short key to its name in French and English, "
            "such as press: {fr: Presse, en: Press}"
        )
    teams = {}
    for key, names in value.items():
        if not _TEAM_KEY.match(str(key)):
            raise ProfileError(
                f"{path}: team key {key!r}: lower-case letters, digits, - or _"
            )
        if not isinstance(names, dict) or not all(
            isinstance(names.get(language), str) and names[language].strip()
            for language in LANGUAGES
        ):
            raise ProfileError(f"{path}: teams.{key} needs a name in fr and en")
        teams[str(key)] = {language: names[language].strip() for language in LANGUAGES}
    return teams


def _count(path: Path, name: str, value: Any, default: int) -> int:
    """An optional whole number from 1 to 100."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ProfileError(f"{path}: {name} {value!r} must be a whole number, 1 to 100")
    return value


def _targets(path: Path, value: Any) -> ResponseTargets:
    """`response_targets:` {first: {urgent: 5, high: 15, normal: 60}, next: ...};
    what is missing keeps its default."""
    if value is None:
        return ResponseTargets()
    if not isinstance(value, dict) or set(value) - {"first", "next"}:
        raise ProfileError(
            f"{path}: response_targets has `first` and `next`, each minutes by "
            "priority (urgent, high, normal)"
        )
    clocks = {}
    for clock in ("first", "next"):
        given = value.get(clock) or {}
        if not isinstance(given, dict) or set(given) - set(DEFAULT_TARGET_MINUTES):
            raise ProfileError(
                f"{path}: response_targets.{clock} gives minutes for urgent, "
                "high and normal"
            )
        minutes = {**DEFAULT_TARGET_MINUTES, **given}
        for priority, n in minutes.items():
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10080:
                raise ProfileError(
                    f"{path}: response_targets.{clock}.{priority} {n!r} must be "
                    "whole minutes, from 1 to 10080"
                )
        clocks[clock] = minutes
    return ResponseTargets(first=clocks["first"], next=clocks["next"])


def _switch(path: Path, name: str, value: Any) -> bool:
    """An optional yes/no field (off when missing)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ProfileError(f"{path}: {name} {value!r} must be true or false")
    return value


def _console_language(path: Path, value: Any) -> str:
    """`console_language:` fr (the default) or en."""
    if value is None:
        return "fr"
    language = str(value).strip().lower()
    if language not in LANGUAGES:
        raise ProfileError(
            f"{path}: console_language {value!r} must be one of " + ", ".join(LANGUAGES)
        )
    return language


def _wrong_answers(path: Path, value: Any) -> float:
    """`wrong_answers_at_most:` as a share: 0.01, 0.02 or 0.03 (or "1 %")."""
    if value is None:
        return WRONG_ANSWER_TARGETS[-1]
    text = str(value).strip().replace(",", ".")
    try:
        share = float(text.rstrip("% ")) / (100 if text.endswith("%") else 1)
    except ValueError:
        share = -1.0
    for target in WRONG_ANSWER_TARGETS:
        if abs(share - target) < 1e-9:
            return target
    raise ProfileError(
        f"{path}: wrong_answers_at_most {value!r} must be one of "
        + ", ".join(f"{t:.0%}" for t in WRONG_ANSWER_TARGETS)
        + " (the targets the gate is calibrated for)"
    )


def _colours(path: Path, value: Any) -> Colours:
    """The `colours:` section; readable together (WCAG AA: a contrast of at
    least 4.5:1), since people in a crisis read the chat on any screen."""
    if value is None:
        return Colours()
    if not isinstance(value, dict):
        raise ProfileError(f"{path}: colours needs brand: and text: (#rrggbb)")
    found = {}
    for key in ("brand", "text"):
        colour = str(value.get(key) or getattr(Colours, key)).strip().lower()
        if not _COLOUR.match(colour):
            raise ProfileError(
                f"{path}: colours.{key} {colour!r} is not a colour: write it as "
                "#rrggbb (for example #123c69)"
            )
        if len(colour) == 4:  # #rgb
            colour = "#" + "".join(2 * digit for digit in colour[1:])
        found[key] = colour
    contrast = _contrast(found["brand"], found["text"])
    if contrast < MIN_CONTRAST:
        raise ProfileError(
            f"{path}: colours.text {found['text']} on colours.brand "
            f"{found['brand']} is hard to read (contrast {contrast:.1f}:1, at "
            f"least {MIN_CONTRAST}:1 needed): darken the brand colour or change "
            "the text colour"
        )
    return Colours(brand=found["brand"], text=found["text"])


def _luminance(colour: str) -> float:
    """WCAG 2's relative luminance of #rrggbb."""
    channels = []
    for start in (1, 3, 5):
        value = int(colour[start : start + 2], 16) / 255
        channels.append(
            value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
        )
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


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
