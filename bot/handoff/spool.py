"""Handoff requests kept on disk while the database is unreachable.

When the queue cannot be written because the database is down (a transient
error: `is_transient`), the action server writes the request here (one JSON
file each, written to a temporary name then renamed, so a crash never leaves
half a request) and a background thread delivers the files to the queue once
the database answers again. Delivery is safe to repeat: a conversation has at
most one open ticket, so a file delivered twice updates it.

A request the database refuses for good (a permanent error: a value it
cannot store, say) is never retried: it is set aside (renamed `*.bad`, kept
for an admin), logged as critical and sent to the alert webhook, and the
requests behind it are delivered. Each process that can spool (the action
server, Rasa when the action server is down) drains the spool when it starts
(`drain_at_start`), not only when a later handoff needs it. `relais purge`
removes set-aside files past the retention.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot import alerts
from bot.db import get_session_factory
from bot.handoff.models import utcnow
from bot.handoff.queue import HandoffRequest, enqueue

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
SET_ASIDE = ".bad"

Alert = Callable[[str], None]

_retrier_lock = threading.Lock()
_retriers: dict[tuple[Path, str], threading.Thread] = {}


def save(request: HandoffRequest, spool_dir: Path, suffix: str = ".json") -> Path:
    """Writes the request to the spool (to the set-aside files with
    `suffix=SET_ASIDE`); returns its file."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}{suffix}"
    temporary = spool_dir / f".{name}.tmp"
    temporary.write_text(json.dumps(request.to_dict(), ensure_ascii=False), "utf-8")
    return temporary.rename(spool_dir / name)


def is_transient(error: SQLAlchemyError) -> bool:
    """Whether the database may take the same request later: it is down,
    restarting, locked or out of connections. Anything else (a value it
    cannot store, a constraint) would fail the same way every time."""
    return isinstance(
        error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
    ) or bool(getattr(error, "connection_invalidated", False))


def webhook_alert(webhook_url: str | None) -> Alert:
    """Logs the alert as critical and posts it to the Slack-compatible
    webhook (RELAIS_ALERT_WEBHOOK_URL) when there is one."""

    def alert(text: str) -> None:
        logger.critical(text)
        error = alerts.post(webhook_url, {"text": text}) if webhook_url else None
        if error:
            logger.error("The alert webhook refused the alert: %s", error)

    return alert


def _tell(kept: Path, conversation_id: str, reason: str, alert: Alert) -> None:
    alert(
        f"Relais: a handoff for conversation {conversation_id} could not be "
        f"queued ({reason}); it is set aside in {kept}. Find the conversation "
        "and answer the person by hand."
    )


def set_aside(path: Path, conversation_id: str, reason: str, alert: Alert) -> Path:
    """Moves a spooled request the queue will never take out of the way of
    the others, and tells the admins."""
    kept = path.rename(path.with_suffix(SET_ASIDE))
    _tell(kept, conversation_id, reason, alert)
    return kept


def save_set_aside(
    request: HandoffRequest, spool_dir: Path, reason: str, alert: Alert
) -> Path:
    """Writes a request the queue refused for good straight to the set-aside
    files, and tells the admins."""
    kept = save(request, spool_dir, suffix=SET_ASIDE)
    _tell(kept, request.conversation_id, reason, alert)
    return kept


def set_aside_files(spool_dir: Path) -> list[Path]:
    """Requests set aside (unreadable, or refused for good by the queue)."""
    if not spool_dir.is_dir():
        return []
    return sorted(spool_dir.glob(f"*{SET_ASIDE}"))


def pending(spool_dir: Path) -> list[Path]:
    """Spooled requests, oldest first."""
    if not spool_dir.is_dir():
        return []
    return sorted(spool_dir.glob("[!.]*.json"))


def deliver(spool_dir: Path, database_url: str, alert: Alert = logger.critical) -> int:
    """Puts every spooled request in the queue; returns how many were delivered.

    Stops at the first transient database error (the rest waits for the next
    try). A file that is not a valid request, or that the queue refuses for
    good, is set aside (`.bad`) with an alert, never retried forever, never
    silently dropped, and never in the way of the requests behind it.
    """
    factory = get_session_factory(database_url)
    delivered = 0
    for path in pending(spool_dir):
        try:
            request = HandoffRequest.from_dict(json.loads(path.read_text("utf-8")))
        except (ValueError, KeyError, TypeError) as error:
            set_aside(path, "unknown", f"unreadable file: {error}", alert)
            continue
        try:
            with factory.begin() as session:
                enqueue(session=session, request=request)
        except SQLAlchemyError as error:
            if is_transient(error):
                logger.warning("Handoff queue still unreachable: %s", error)
                break
            reason = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            set_aside(path, request.conversation_id, reason, alert)
            continue
        path.unlink()
        delivered += 1
        logger.info("Delivered spooled handoff for %s", request.conversation_id)
    return delivered


def start_retrying(
    spool_dir: Path,
    database_url: str,
    interval: float = RETRY_SECONDS,
    on_delivered: Callable[[int], None] | None = None,
    alert: Alert = logger.critical,
) -> threading.Thread:
    """Delivers the spool in a background thread until it is empty.

    One thread per spool and database; calling again while it runs does nothing.
    """
    key = (spool_dir, database_url)
    with _retrier_lock:
        running = _retriers.get(key)
        if running is not None:
            return running

        def retry() -> None:
            while True:
                time.sleep(interval)
                try:
                    delivered = deliver(spool_dir, database_url, alert)
                    if delivered and on_delivered is not None:
                        on_delivered(delivered)
                except Exception:  # the thread must outlive any one failure
                    logger.exception("Delivering spooled handoffs failed")
                # Checked under the lock: a request saved meanwhile is either
                # seen here or finds no thread and starts a new one.
                with _retrier_lock:
                    if not pending(spool_dir):
                        del _retriers[key]
                        return

        thread = threading.Thread(target=retry, name="handoff-spool", daemon=True)
        _retriers[key] = thread
        thread.start()
        return thread


def drain_at_start(spool_dir: Path, database_url: str, alert: Alert) -> bool:
    """Starts delivering what an earlier run left in the spool; True if there
    was anything."""
    left = pending(spool_dir)
    if not left:
        return False
    logger.warning("%d spooled handoff(s) from an earlier run: delivering", len(left))
    start_retrying(spool_dir, database_url, alert=alert)
    return True


def purge_set_aside(spool_dir: Path, cutoff: datetime, dry_run: bool = False) -> int:
    """Removes set-aside requests last written before `cutoff` (they hold a
    person's words); returns how many (would) go."""
    old = [
        path
        for path in set_aside_files(spool_dir)
        if datetime.fromtimestamp(path.stat().st_mtime, timezone.utc) < cutoff
    ]
    if not dry_run:
        for path in old:
            path.unlink(missing_ok=True)
    return len(old)
