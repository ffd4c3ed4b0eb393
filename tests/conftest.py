"""Shared fixtures: settings from a clean environment, trackers from JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker

from bot.settings import PROJECT_ROOT, get_settings

FIXTURES = Path(__file__).parent / "fixtures"

TEST_ENVIRONMENT = {
    "RELAIS_ENV": "local",
    "RASA_TOKEN": "test-token",
    "RASA_URL": "http://127.0.0.1:5005",
    "RELAIS_FAQ_DIR": str(PROJECT_ROOT / "data" / "faq"),
    "RELAIS_CONTACT_PHONE": "0 800 35 35 35",
    "RELAIS_CONTACT_EMAIL": "rappel@montval.fr",
    "RELAIS_CONTACT_HOURS": "8:00–20:00, 7/7",
}


@pytest.fixture(autouse=True)
def relais_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every test sees the same known configuration, never the developer's .env."""
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("bot.settings.load_dotenv", lambda *args, **kwargs: False)
    get_settings.cache_clear()
    yield TEST_ENVIRONMENT
    get_settings.cache_clear()


def load_tracker(name: str, **changes: Any) -> Tracker:
    """A rasa_sdk Tracker from tests/fixtures/<name>.json.

    Keyword arguments replace top-level keys; `slots` and `latest_message`
    are merged into the fixture's.
    """
    state = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if key in ("slots", "latest_message"):
            state[key] = {**state[key], **copy.deepcopy(value)}
        else:
            state[key] = value
    return Tracker.from_dict(state)
