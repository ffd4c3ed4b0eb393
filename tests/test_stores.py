"""bot.stores keeps what Rasa's SQL tracker store and event broker keep.

The same conversation is saved through Rasa's own classes and through
Relais' on SQLite and on the PostgreSQL server: both must leave the same rows
(the console's watcher and `rasa export` read them), and Rasa must read the
same conversation back.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from bot import stores
from bot.settings import PROJECT_ROOT
from tests.conftest import postgres_database


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


def _turn(text: str, intent: str, answer: str, at: float) -> list[Event]:
    return [
        UserUttered(text, {"name": intent, "confidence": 0.9}, timestamp=at),
        SlotSet("language", "fr", timestamp=at + 0.1),
        ActionExecuted("action_answer_faq", timestamp=at + 0.2),
        BotUttered(answer, {"buttons": []}, timestamp=at + 0.3),
        ActionExecuted("action_listen", timestamp=at + 0.4),
    ]


# Three saves of one conversation, the last one after a new session started.
SAVES = [
    [ActionExecuted("action_listen", timestamp=1.0)],
    _turn("quels lots sont rappelés ?", "faq", "Les lots L26301 à L26315.", 2.0),
    [
        ActionExecuted("action_session_start", timestamp=10.0),
        SessionStarted(timestamp=10.1),
        ActionExecuted("action_listen", timestamp=10.2),
        *_turn("je veux un remboursement", "faq", "En magasin.", 11.0),
    ],
]


async def _save_conversation(
    tracker_store: SQLTrackerStore, domain: Domain, sender: str
) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, domain.slots)
    for events in SAVES:
        for event in events:
            tracker.update(event)
        await tracker_store.save(tracker)
    retrieved = await tracker_store.retrieve_full_tracker(sender)
    assert retrieved is not None
    return retrieved


def _rows(url: str, columns: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"SELECT {columns} FROM events ORDER BY id")
        result = [tuple(row) for row in rows]
    engine.dispose()
    return result


def _kwargs(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return {"dialect": "sqlite", "db": parsed.database}
    return {
        "dialect": "postgresql",
        "host": parsed.host,
        "port": parsed.port,
        "db": parsed.database,
        "username": parsed.username,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def four_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[list[str]]:
    """Tracker and broker databases for Rasa's classes, then for Relais'."""
    if request.param == "sqlite":
        yield [f"sqlite:///{tmp_path / f'{n}.db'}" for n in range(4)]
        return
    with (
        postgres_database() as a,
        postgres_database() as b,
        postgres_database() as c,
        postgres_database() as d,
    ):
        yield [a, b, c, d]


async def test_same_rows_and_same_conversation_as_rasas_own_classes(
    domain: Domain, four_databases: list[str]
) -> None:
    rasa_tracker_url, rasa_broker_url, tracker_url, broker_url = four_databases
    rasa_store = SQLTrackerStore(
        domain, event_broker=SQLEventBroker(**_kwargs(rasa_broker_url)),
        **_kwargs(rasa_tracker_url),
    )  # fmt: skip
    relais_store = stores.TrackerStore(
        domain, event_broker=stores.EventBroker(**_kwargs(broker_url)),
        **_kwargs(tracker_url),
    )  # fmt: skip

    expected = await _save_conversation(rasa_store, domain, "alice")
    got = await _save_conversation(relais_store, domain, "alice")

    assert [e.as_dict() for e in got.events] == [e.as_dict() for e in expected.events]
    columns = "sender_id, type_name, timestamp, intent_name, action_name, data"
    assert _rows(tracker_url, columns) == _rows(rasa_tracker_url, columns)
    stored = _rows(broker_url, "sender_id, data")
    assert stored == _rows(rasa_broker_url, "sender_id, data")
    # Every event of the three saves, once, in order.
    assert [json.loads(data)["event"] for _, data in stored] == [
        event.as_dict()["event"] for events in SAVES for event in events
    ]
    # The latest session alone, as Rasa reads it to answer.
    latest = await relais_store.retrieve("alice")
    assert latest is not None
    assert latest.latest_message is not None
    assert latest.latest_message.text == "je veux un remboursement"
    assert not any(
        isinstance(e, UserUttered) and e.text == "quels lots sont rappelés ?"
        for e in latest.events
    )


async def test_saving_an_unchanged_conversation_stores_nothing(
    domain: Domain, tmp_path: Path
) -> None:
    broker = stores.EventBroker(dialect="sqlite", db=str(tmp_path / "events.db"))
    store = stores.TrackerStore(
        domain, event_broker=broker, dialect="sqlite", db=str(tmp_path / "tracker.db")
    )
    await _save_conversation(store, domain, "bob")
    # Rasa reads the latest session, handles nothing new, and saves it.
    tracker = await store.retrieve("bob")
    assert tracker is not None
    await store.save(tracker)
    stored = len(_rows(f"sqlite:///{tmp_path / 'tracker.db'}", "id"))
    assert stored == sum(len(events) for events in SAVES)
    assert len(_rows(f"sqlite:///{tmp_path / 'events.db'}", "id")) == stored


def test_a_batch_of_events_is_stored_whole_or_not_at_all(tmp_path: Path) -> None:
    broker = stores.EventBroker(dialect="sqlite", db=str(tmp_path / "events.db"))
    broker.publish_many([{"sender_id": "carol", "event": "user", "text": "allô"}])
    with pytest.raises(TypeError):
        broker.publish_many(
            [
                {"sender_id": "carol", "event": "user", "text": "bonjour"},
                {"sender_id": "carol", "event": "user", "text": object()},
            ]
        )
    rows = _rows(f"sqlite:///{tmp_path / 'events.db'}", "data")
    assert [json.loads(data)["text"] for (data,) in rows] == ["allô"]


async def test_a_reader_in_the_middle_of_a_read_does_not_stop_a_save(
    domain: Domain, tmp_path: Path
) -> None:
    """The console's watcher reads the event table while Rasa writes: with
    SQLite's default journal, a read transaction held open makes the writer
    wait (here: fail after its busy timeout). Rasa saving must not notice."""
    broker = stores.EventBroker(dialect="sqlite", db=str(tmp_path / "events.db"))
    store = stores.TrackerStore(
        domain,
        event_broker=broker,
        dialect="sqlite",
        db=str(tmp_path / "tracker.db"),
    )
    await _save_conversation(store, domain, "dan")
    reader = sqlite3.connect(tmp_path / "events.db", timeout=0)
    reader.execute("BEGIN")
    before = reader.execute("SELECT count(*) FROM events").fetchone()[0]

    outcome: list[BaseException | None] = []

    def write() -> None:
        tracker = DialogueStateTracker("erin", domain.slots)
        for event in SAVES[1]:
            tracker.update(event)
        try:
            import asyncio

            asyncio.run(store.save(tracker))
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    # busy_timeout would make a blocked writer fail after 30 s: lower it so
    # that a regression fails at once instead of slowly.
    store.engine.dispose()
    writer = threading.Thread(target=write)
    sa.event.listen(
        store.engine,
        "connect",
        lambda connection, _: connection.execute("PRAGMA busy_timeout=0"),
    )
    writer.start()
    writer.join()
    assert outcome == [None]
    # The reader still sees its own snapshot, and the new rows once it ends.
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == before
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] > before
    reader.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
        return
    with postgres_database() as url:
        yield url


async def test_two_processes_take_turns_on_one_conversation(
    domain: Domain, tracker_database: str
) -> None:
    """Issue 29: each Rasa process holds the conversations it served, and
    must still read what another one stored since, a new session, a purge,
    exactly as Rasa's own store reads the database."""
    kwargs = _kwargs(tracker_database)
    first = stores.TrackerStore(domain, **kwargs)
    second = stores.TrackerStore(domain, **kwargs)
    rasa = SQLTrackerStore(domain, **kwargs)

    async def reads_as_rasa(store: stores.TrackerStore) -> DialogueStateTracker:
        got, expected = await store.retrieve("carol"), await rasa.retrieve("carol")
        assert got is not None and expected is not None
        assert [e.as_dict() for e in got.events] == [
            e.as_dict() for e in expected.events
        ]
        assert got.current_slot_values() == expected.current_slot_values()
        return got

    async def add(store: stores.TrackerStore, events: list[Event]) -> None:
        tracker = await store.retrieve("carol") or DialogueStateTracker(
            "carol", domain.slots
        )
        for event in events:
            tracker.update(event)
        await store.save(tracker)

    await add(first, SAVES[0] + SAVES[1])
    await reads_as_rasa(second)
    # The first process answers the next message: the second sees it.
    await add(first, _turn("et pour les yaourts ?", "faq", "Aussi.", 5.0))
    held = await reads_as_rasa(second)
    assert held.latest_message is not None
    assert held.latest_message.text == "et pour les yaourts ?"
    # A tracker changed and not saved changes nothing held.
    held.update(SlotSet("language", "en", timestamp=6.0))
    assert (await reads_as_rasa(second)).get_slot("language") == "fr"
    # Turns on both sides, then a new session started by the other one.
    await add(second, _turn("merci", "thanks", "Avec plaisir.", 7.0))
    await reads_as_rasa(first)
    await add(second, SAVES[2])
    latest = await reads_as_rasa(first)
    assert not any(
        isinstance(e, UserUttered) and e.text == "merci" for e in latest.events
    )
    # The retention purge removes the conversation: nobody reads it any more.
    engine = sa.create_engine(tracker_database)
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM events WHERE sender_id = 'carol'")
    engine.dispose()
    assert await first.retrieve("carol") is None
    assert await second.retrieve("carol") is None


async def test_a_long_conversation_is_read_once(
    domain: Domain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 29: the thirtieth message of a conversation reads from the
    database what the first did (its last row id), not the 150 events
    before it."""
    store = stores.TrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    parsed: list[int] = []
    original = stores.deserialise_events

    def counting(events: list[dict[str, Any]]) -> list[Event]:
        parsed.append(len(events))
        return original(events)

    monkeypatch.setattr(stores, "deserialise_events", counting)
    for turn in range(30):
        tracker = await store.retrieve("dave") or DialogueStateTracker(
            "dave", domain.slots
        )
        for event in _turn(f"question {turn}", "faq", "Réponse.", 10.0 + turn):
            tracker.update(event)
        await store.save(tracker)
    assert parsed == []
    tracker = await store.retrieve("dave")
    assert tracker is not None and len(tracker.events) == 150
    # Another process (no conversation held) reads it whole, once.
    other = stores.TrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    assert await other.retrieve("dave") is not None
    assert await other.retrieve("dave") is not None
    assert parsed == [150]
