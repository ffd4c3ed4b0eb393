"""The loop the console runs: reads Rasa's events from wherever
RELAIS_EVENTS_URL points (SQL or RabbitMQ), applies them (records.py) and
sends the emergency guidance a batch calls for."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.events.records import BATCH, Urgent
from bot.events.sql import SqlEvents
from bot.profile import Profile
from bot.rasa_api import RasaClient, RasaError

logger = logging.getLogger(__name__)


class EventSource(Protocol):
    """Where the watcher reads Rasa's events from."""

    def read(self) -> tuple[int, list[Urgent]]: ...

    def close(self) -> None: ...


def event_source(database_url: str, events_url: str, queue: str) -> EventSource:
    """The source RELAIS_EVENTS_URL names: RabbitMQ (`amqp://`) or SQL."""
    if events_url.startswith(("amqp://", "amqps://")):
        from bot.events.rabbit import RabbitEvents  # aio-pika only when used

        return RabbitEvents(database_url, events_url, queue)
    return SqlEvents(database_url, events_url)


def send_guidance(rasa: RasaClient, people: list[Urgent], profile: Profile) -> None:
    """The crisis profile's emergency guidance into each person's chat, in
    their language."""
    for person in people:
        text = profile.emergency(person.reason, person.language)
        rasa.append_events(
            person.conversation_id,
            [{"event": "bot", "text": text, "timestamp": time.time()}],
        )


def run_forever(
    source: EventSource,
    rasa: RasaClient,
    stop: threading.Event,
    profile: Profile,
    interval: float = 0.5,
) -> None:
    """Watches until `stop` is set; survives any one failure.

    Emergency guidance that could not be sent (Rasa restarting) is retried on
    the next round rather than dropped.
    """
    pending: list[Urgent] = []
    try:
        while not stop.is_set():
            count = 0
            try:
                count, urgent = source.read()
                pending += urgent
                send_guidance(rasa, pending, profile)
                pending = []
            except (SQLAlchemyError, RasaError, ConnectionError, OSError) as error:
                # Rasa or RabbitMQ not started yet, or a database blip: try
                # again shortly.
                logger.info("Event watcher waiting: %s", error)
            except Exception:
                logger.exception("Event watcher failed; going on")
            if count < BATCH:
                stop.wait(interval)
    finally:
        source.close()
