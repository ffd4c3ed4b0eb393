"""The watcher's events from RabbitMQ, where Rasa's Pika event broker sends them.

With several Rasa processes (`make run-scaled`), each publishes every event
to RabbitMQ (endpoints.scaled.yml, `type: pika`): Rasa declares a fanout
exchange, `rasa-exchange`, and binds the durable queues its configuration
lists. The console consumes one of them (RELAIS_EVENTS_QUEUE): events wait in
the queue while no console runs, and several consoles share the work (each
event goes to one of them).

A batch is acknowledged only after the tickets it changed are committed; if
the commit fails, the batch goes back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPError

from bot.db import get_session_factory
from bot.events.records import BATCH, Urgent, apply_events, decode

logger = logging.getLogger(__name__)

# Rasa's PikaEventBroker (rasa/core/brokers/pika.py): the exchange every Rasa
# process publishes to, declared with the same arguments so that either side
# may start first.
RASA_EXCHANGE = "rasa-exchange"
# How long one read waits for RabbitMQ before giving up on this round.
TIMEOUT_SECONDS = 10


class RabbitEvents:
    """Reads batches of Rasa's events from one durable RabbitMQ queue.

    Runs in the watcher's thread with an event loop of its own; the
    connection is opened on the first read and again after a failure.
    """

    def __init__(self, database_url: str, url: str, queue: str) -> None:
        self.database_url = database_url
        self.url = url
        self.queue_name = queue
        self._loop = asyncio.new_event_loop()
        self._connection: AbstractRobustConnection | None = None
        self._queue: AbstractQueue | None = None

    def read(self) -> tuple[int, list[Urgent]]:
        try:
            return self._loop.run_until_complete(self._read())
        except (AMQPError, asyncio.TimeoutError, OSError) as error:
            self._loop.run_until_complete(self._disconnect())
            raise ConnectionError(f"RabbitMQ at {self._where()}: {error!r}") from None

    def close(self) -> None:
        self._loop.run_until_complete(self._disconnect())
        self._loop.close()

    def _where(self) -> str:
        # The URL without its password, for log lines.
        host = self.url.split("@")[-1]
        return f"{host} (queue {self.queue_name})"

    async def _connect(self) -> AbstractQueue:
        if self._queue is not None:
            return self._queue
        self._connection = await asyncio.wait_for(
            aio_pika.connect_robust(self.url), TIMEOUT_SECONDS
        )
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=BATCH)
        exchange = await channel.declare_exchange(
            RASA_EXCHANGE, type=aio_pika.ExchangeType.FANOUT
        )
        queue = await channel.declare_queue(self.queue_name, durable=True)
        await queue.bind(exchange, "")
        logger.info("Event watcher reading RabbitMQ at %s", self._where())
        self._queue = queue
        return queue

    async def _disconnect(self) -> None:
        connection, self._connection, self._queue = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except Exception as error:  # closing a broken connection
                logger.debug("RabbitMQ connection closed with %r", error)

    async def _read(self) -> tuple[int, list[Urgent]]:
        queue = await self._connect()
        messages: list[AbstractIncomingMessage] = []
        while len(messages) < BATCH:
            message = await queue.get(fail=False, timeout=TIMEOUT_SECONDS)
            if message is None:
                break
            messages.append(message)
        if not messages:
            return 0, []
        events: list[dict[str, Any]] = []
        for message in messages:
            event = decode(message.body)
            if event is not None:
                events.append(event)
        try:
            with get_session_factory(self.database_url).begin() as session:
                urgent = apply_events(session, events)
        except Exception:
            await messages[-1].nack(multiple=True, requeue=True)
            raise
        await messages[-1].ack(multiple=True)
        return len(messages), urgent
