"""Alerts to the team's chat: a Slack-compatible incoming webhook
(RELAIS_ALERT_WEBHOOK_URL). Spikes (bot/insights/spikes.py) and handoffs the
queue refused (bot/handoff/spool.py) are sent through it."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_SECONDS = 5


def post(webhook_url: str, payload: dict[str, Any]) -> str | None:
    """Posts one alert; returns what went wrong, or None."""
    try:
        response = requests.post(webhook_url, json=payload, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        return f"{type(error).__name__}: {error}"
    if response.status_code >= 300:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    return None
