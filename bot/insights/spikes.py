"""Spike alerts: checked every 5 minutes, shown in the console, posted to editors.

`check` groups the gaps of the last 3 h 15 min (gaps.py) and records a
`GapSpike` for each spiking group not already alerted in the last
`REALERT_AFTER` (the same group: most of its phrasings were in that alert).
`notify` posts each new alert to RELAIS_ALERT_WEBHOOK_URL as a
Slack-compatible message (`text` plus `blocks`; Mattermost, Rocket.Chat and
Teams' Slack-compatible hooks take it too). A failed post is recorded on the
alert and never stops the next check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import alerts
from bot.db import get_session_factory, utcnow
from bot.faq.pack import Topic
from bot.insights import gaps
from bot.insights.facts import bucket_start
from bot.insights.models import GapSpike

logger = logging.getLogger(__name__)

INTERVAL = timedelta(minutes=5)
# A group alerted this recently is not alerted again.
REALERT_AFTER = timedelta(hours=3)
SAME_GROUP_SHARE = 0.3


def _same_group(group: gaps.Group, spike: GapSpike) -> bool:
    known = set(spike.phrasings or [])
    weighted = sum(count for text, count in group.phrasings)
    shared = sum(count for text, count in group.phrasings if gaps.fold(text) in known)
    return weighted > 0 and shared / weighted >= SAME_GROUP_SHARE


def check(session: Session, pack: dict[str, Topic], now: datetime) -> list[GapSpike]:
    """Records the spikes among the gaps as of `now`; returns the new ones."""
    start = now - gaps.RECENT - gaps.BASELINE
    recent_alerts = list(
        session.execute(
            select(GapSpike).where(GapSpike.detected_at >= now - REALERT_AFTER)
        ).scalars()
    )
    new: list[GapSpike] = []
    for group in gaps.groups_between(session, start, now, pack):
        if not group.spike:
            continue
        if any(_same_group(group, alert) for alert in recent_alerts + new):
            continue
        spike = GapSpike(
            detected_at=now,
            label=group.label,
            recent=group.recent,
            baseline=round(group.baseline, 2),
            examples=group.examples,
            nearest_topic=group.nearest_topic,
            phrasings=sorted(group.keys)[:200],
        )
        session.add(spike)
        new.append(spike)
    session.flush()
    return new


def slack_payload(spike: GapSpike, console_url: str) -> dict:
    """The alert as a Slack incoming-webhook message."""
    examples = "\n".join(f"• {text}" for text in spike.examples[:5])
    headline = (
        f"Relais: {spike.recent} people asked something the FAQ does not answer "
        f"in the last 15 minutes (usually {spike.baseline:g})."
    )
    return {
        "text": f"{headline} “{spike.label}”",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": examples}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (
                            f"Nearest topic: {spike.nearest_topic or 'none'} · "
                            f"<{console_url}/gaps|Open the gaps> "
                            "to make a topic from it."
                        ),
                    }
                ],
            },
        ],
    }


def notify(spike: GapSpike, webhook_url: str, console_url: str) -> str | None:
    """Posts the alert; returns what went wrong, or None."""
    return alerts.post(webhook_url, slack_payload(spike, console_url))


def check_and_notify(
    database_url: str,
    pack: dict[str, Topic],
    now: datetime,
    webhook_url: str | None,
    console_url: str,
) -> list[GapSpike]:
    """One round: new alerts recorded, then posted (outside the transaction)."""
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        new = check(session, pack, now)
    for spike in new:
        logger.warning("Spike: %s people in 15 min: %s", spike.recent, spike.label)
        if not webhook_url:
            continue
        error = notify(spike, webhook_url, console_url)
        with factory.begin() as session:
            row = session.get(GapSpike, spike.id)
            if row is not None:
                row.notified_at = None if error else utcnow()
                row.notify_error = error
    return new


def active(session: Session, now: datetime, within: timedelta) -> list[GapSpike]:
    """Alerts of the last `within` that no topic was made from yet."""
    return list(
        session.execute(
            select(GapSpike)
            .where(GapSpike.detected_at >= now - within, GapSpike.topic.is_(None))
            .order_by(GapSpike.detected_at.desc())
        ).scalars()
    )


def run_forever(
    database_url: str,
    load_pack: Callable[[], dict[str, Topic]],
    webhook_url: str | None,
    console_url: str,
    stop: threading.Event,
) -> None:
    """Checks at every 5-minute mark until `stop` is set; survives failures."""
    while not stop.is_set():
        now = utcnow()
        try:
            check_and_notify(database_url, load_pack(), now, webhook_url, console_url)
        except Exception:
            logger.exception("Spike check failed; trying again at the next mark")
        following = bucket_start(utcnow()) + INTERVAL
        stop.wait(max(1.0, (following - utcnow()).total_seconds()))
