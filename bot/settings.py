"""One typed settings object, loaded once from the environment and `.env`.

The real environment wins over `.env` (python-dotenv with `override=False`).
A missing or bad value raises `SettingsError` naming the variable, so start-up
stops with a message a person can act on instead of a stack trace later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("local", "production")
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "token"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything Relais reads from its environment."""

    environment: str
    rasa_token: str
    rasa_url: str
    faq_dir: Path
    contact_phone: str
    contact_email: str
    contact_hours: str

    @property
    def is_local(self) -> bool:
        return self.environment == "local"


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: add it to .env (see .env.example).")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    """Builds and validates settings from a mapping of environment variables.

    Args:
        env: The variables, usually `os.environ` after `.env` was loaded.

    Returns:
        The validated settings.

    Raises:
        SettingsError: A variable is missing or has a bad value.
    """
    environment = env.get("RELAIS_ENV", "local").strip() or "local"
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"RELAIS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}."
        )

    rasa_token = _required(env, "RASA_TOKEN")
    if environment != "local" and rasa_token.lower() in PLACEHOLDER_SECRETS:
        raise SettingsError(
            "RASA_TOKEN still holds a placeholder; set a long random value "
            "outside local mode."
        )
    if environment != "local" and len(rasa_token) < 24:
        raise SettingsError("RASA_TOKEN is too short: use at least 24 characters.")

    rasa_url = env.get("RASA_URL", "http://127.0.0.1:5005").strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", rasa_url):
        raise SettingsError(f"RASA_URL must be an http(s) URL, not {rasa_url!r}.")

    faq_dir = Path(env.get("RELAIS_FAQ_DIR", "data/faq").strip() or "data/faq")
    if not faq_dir.is_absolute():
        faq_dir = PROJECT_ROOT / faq_dir
    if not faq_dir.is_dir():
        raise SettingsError(f"RELAIS_FAQ_DIR {str(faq_dir)!r} is not a directory.")

    contact_email = _required(env, "RELAIS_CONTACT_EMAIL")
    if not _EMAIL.match(contact_email):
        raise SettingsError(
            f"RELAIS_CONTACT_EMAIL {contact_email!r} is not an e-mail address."
        )

    return Settings(
        environment=environment,
        rasa_token=rasa_token,
        rasa_url=rasa_url,
        faq_dir=faq_dir,
        contact_phone=_required(env, "RELAIS_CONTACT_PHONE"),
        contact_email=contact_email,
        contact_hours=_required(env, "RELAIS_CONTACT_HOURS"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Loads `.env` (without overriding the real environment) once, then validates."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    return load_settings(os.environ)
