"""Handoff requests kept on disk while the database is unreachable.

When the queue cannot be written, the action server writes the request here
(one JSON file each, written to a temporary name then renamed, so a crash never
leaves half a request) and a background thread delivers the files to the queue
once the database answers again. Delivery is safe to repeat: a conversation
has at most one open ticket, so a file delivered twice updates it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_session_factory
from bot.handoff.models import utcnow
from bot.handoff.queue import HandoffRequest, enqueue

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0

_retrier_lock = threading.Lock()
_retriers: dict[tuple[Path, str], threading.Thread] = {}


def save(request: HandoffRequest, spool_dir: Path) -> Path:
    """Writes the request to the spool; returns its file."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
    temporary = spool_dir / f".{name}.tmp"
    temporary.write_text(json.dumps(request.to_dict(), ensure_ascii=False), "utf-8")
    return temporary.rename(spool_dir / name)


def pending(spool_dir: Path) -> list[Path]:
    """Spooled requests, oldest first."""
    if not spool_dir.is_dir():
        return []
    return sorted(spool_dir.glob("[!.]*.json"))


def deliver(spool_dir: Path, database_url: str) -> int:
    """Puts every spooled request in the queue; returns how many were delivered.

    Stops at the first database error (the rest waits for the next try). A file
    that is not a valid request is moved aside with a `.bad` suffix and logged,
    never retried forever nor silently dropped.
    """
    factory = get_session_factory(database_url)
    delivered = 0
    for path in pending(spool_dir):
        try:
            request = HandoffRequest.from_dict(json.loads(path.read_text("utf-8")))
        except (ValueError, KeyError, TypeError) as error:
            logger.error(
                "Unreadable spooled handoff %s (%s); kept as .bad", path, error
            )
            path.rename(path.with_suffix(".bad"))
            continue
        try:
            with factory.begin() as session:
                enqueue(session=session, request=request)
        except SQLAlchemyError as error:
            logger.warning("Handoff queue still unreachable: %s", error)
            break
        path.unlink()
        delivered += 1
        logger.info("Delivered spooled handoff for %s", request.conversation_id)
    return delivered


def start_retrying(
    spool_dir: Path,
    database_url: str,
    interval: float = RETRY_SECONDS,
    on_delivered: Callable[[int], None] | None = None,
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
                    delivered = deliver(spool_dir, database_url)
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
