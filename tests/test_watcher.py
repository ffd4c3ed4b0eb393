"""The event watcher, fed by Rasa's SQL tracker store (`make run`), its SQL
event broker or RabbitMQ (the machine's server, as Rasa's Pika broker
publishes to it)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import SQLAlchemyError

from bot import stores
from bot.db import get_session_factory
from bot.events import rabbit, records, sql, watcher
from bot.handoff import queue
from bot.settings import PROJECT_ROOT

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


def user_event(sender: str, text: str, reason: str | None = None) -> dict:
    parse_data: dict = {"intent": {"name": "request_human"}}
    if reason:
        parse_data["escalation"] = {"reason": reason, "priority": "urgent"}
    return {
        "event": "user",
        "sender_id": sender,
        "text": text,
        "parse_data": parse_data,
    }


def test_a_waiting_person_who_reports_symptoms_becomes_urgent(
    database_url: str, tmp_path: Path
) -> None:
    events_db = tmp_path / "events.db"
    broker = SQLEventBroker(dialect="sqlite", db=str(events_db))
    events_url = f"sqlite:///{events_db}"
    with get_session_factory(database_url).begin() as session:
        waiting = queue.HandoffRequest(
            "waiting", "socketio", "fr", "asked_for_human", "normal", "un humain"
        )
        queue.enqueue(session=session, request=waiting)

    broker.publish({"event": "action", "sender_id": "waiting", "name": "action_listen"})
    broker.publish(user_event("somebody-else", "mon fils vomit", "health"))
    broker.publish(user_event("waiting", "toujours là ?"))
    count, urgent = sql.watch_once(database_url, events_url)
    assert (count, urgent) == (3, [])
    with get_session_factory(database_url).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id="waiting")
        assert (ticket.last_message, ticket.priority) == ("toujours là ?", "normal")

    broker.publish(user_event("waiting", "mon fils vomit depuis ce matin", "health"))
    count, urgent = sql.watch_once(database_url, events_url)
    assert count == 1
    assert urgent == [records.Urgent("waiting", "health", "fr")]
    with get_session_factory(database_url).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id="waiting")
        assert (ticket.priority, ticket.reason) == ("urgent", "health")
        assert ticket.last_message == "mon fils vomit depuis ce matin"

    # Nothing is handled twice, and an already urgent ticket sends no new alert.
    assert sql.watch_once(database_url, events_url) == (0, [])
    broker.publish(user_event("waiting", "il vomit encore", "health"))
    assert sql.watch_once(database_url, events_url) == (1, [])


async def test_the_watcher_reads_the_tracker_store_of_make_run(
    database_url: str, tmp_path: Path
) -> None:
    """Issue 29: `make run` has no event broker; the watcher reads what Rasa's
    tracker store keeps. A console that read the broker until now goes on
    from the tracker store's last event, handling none twice."""
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    tracker_db = tmp_path / "tracker.db"
    store = stores.TrackerStore(domain, dialect="sqlite", db=str(tracker_db))
    events_url = f"sqlite:///{tracker_db}"

    async def says(sender: str, text: str, reason: str | None = None) -> None:
        tracker = await store.retrieve(sender) or DialogueStateTracker(
            sender, domain.slots
        )
        event = user_event(sender, text, reason)
        tracker.update(UserUttered(text, event["parse_data"]["intent"],
                                   parse_data=event["parse_data"]))  # fmt: skip
        await store.save(tracker)

    with get_session_factory(database_url).begin() as session:
        waiting = queue.HandoffRequest(
            "waiting", "socketio", "fr", "asked_for_human", "normal", "un humain"
        )
        queue.enqueue(session=session, request=waiting)
        # This console read Rasa's SQL broker until now.
        session.add(sql.EventCursor(name=sql.CURSOR_NAME, last_id=41))
    await says("waiting", "déjà lu par le broker")
    assert sql.watch_once(database_url, events_url) == (0, [])

    await says("waiting", "mon fils vomit depuis ce matin", "health")
    count, urgent = sql.watch_once(database_url, events_url)
    assert count == 1
    assert urgent == [records.Urgent("waiting", "health", "fr")]
    with get_session_factory(database_url).begin() as session:
        ticket = queue.open_ticket_for(session=session, conversation_id="waiting")
        assert ticket.last_message == "mon fils vomit depuis ce matin"
    assert sql.watch_once(database_url, events_url) == (0, [])


def publish_to_rabbitmq(events: list[dict], queue_name: str) -> None:
    """What each Rasa process's Pika broker does (rasa/core/brokers/pika.py):
    persistent JSON messages to the fanout exchange bound to the queue."""

    async def publish() -> None:
        connection = await aio_pika.connect(RABBITMQ)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                rabbit.RASA_EXCHANGE, type=aio_pika.ExchangeType.FANOUT
            )
            queue = await channel.declare_queue(queue_name, durable=True)
            await queue.bind(exchange, "")
            for event in events:
                await exchange.publish(
                    aio_pika.Message(
                        json.dumps(event).encode(),
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    "",
                )

    asyncio.run(publish())


@pytest.fixture
def rabbit_queue() -> Iterator[str]:
    name = f"relais-test-{uuid.uuid4().hex[:8]}"
    yield name

    async def delete() -> None:
        connection = await aio_pika.connect(RABBITMQ)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)

    asyncio.run(delete())


def test_events_from_rabbitmq_update_waiting_tickets_once(
    database_url: str, rabbit_queue: str, tmp_path: Path
) -> None:
    with get_session_factory(database_url).begin() as session:
        waiting = queue.HandoffRequest(
            "waiting", "socketio", "fr", "asked_for_human", "normal", "un humain"
        )
        queue.enqueue(session=session, request=waiting)
    publish_to_rabbitmq(
        [
            {"event": "action", "sender_id": "waiting", "name": "action_listen"},
            user_event("waiting", "toujours là ?"),
            user_event("somebody-else", "mon fils vomit", "health"),
        ],
        rabbit_queue,
    )
    # A console whose database fails mid-batch leaves the events queued.
    broken = rabbit.RabbitEvents(
        f"sqlite:///{tmp_path / 'unmigrated.db'}", RABBITMQ, rabbit_queue
    )
    with pytest.raises(SQLAlchemyError):
        broken.read()
    broken.close()

    source = watcher.event_source(database_url, RABBITMQ, rabbit_queue)
    try:
        assert source.read() == (3, [])
        with get_session_factory(database_url).begin() as session:
            ticket = queue.open_ticket_for(session=session, conversation_id="waiting")
            assert (ticket.last_message, ticket.priority) == ("toujours là ?", "normal")

        publish_to_rabbitmq(
            [user_event("waiting", "mon fils vomit depuis ce matin", "health")],
            rabbit_queue,
        )
        assert source.read() == (1, [records.Urgent("waiting", "health", "fr")])
        with get_session_factory(database_url).begin() as session:
            ticket = queue.open_ticket_for(session=session, conversation_id="waiting")
            assert (ticket.priority, ticket.reason) == ("urgent", "health")
        # Acknowledged: nothing is read twice.
        assert source.read() == (0, [])
    finally:
        source.close()


def test_an_unreachable_rabbitmq_is_a_connection_error_to_wait_on(
    tmp_path: Path,
) -> None:
    source = rabbit.RabbitEvents(
        f"sqlite:///{tmp_path / 'relais.db'}",
        "amqp://guest:secret@127.0.0.1:1/",
        "relais-nowhere",
    )
    with pytest.raises(ConnectionError, match=r"RabbitMQ at 127\.0\.0\.1:1/") as error:
        source.read()
    assert "secret" not in str(error.value)
    source.close()
