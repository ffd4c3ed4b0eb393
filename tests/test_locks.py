"""The Redis lock store shared by several Rasa processes (bot.stores.LockStore).

Each `LockStore` here stands for one Rasa process: its own Redis connection,
used from its own thread and event loop, against the machine's Redis.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from rasa.utils.endpoints import EndpointConfig

from bot.stores import LockStore

REDIS = {"url": "127.0.0.1", "port": 6379, "db": 1}


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards."""
    prefix = f"relaistest{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def store(prefix: str) -> LockStore:
    return LockStore(EndpointConfig(**REDIS, key_prefix=prefix))


def test_processes_asking_at_the_same_moment_get_distinct_turns(prefix: str) -> None:
    processes = [store(prefix), store(prefix)]
    people = 24
    ready = threading.Barrier(people)

    def ask(index: int) -> int:
        ready.wait()
        return processes[index % 2].issue_ticket("same-conversation")

    with ThreadPoolExecutor(max_workers=people) as pool:
        tickets = list(pool.map(ask, range(people)))
    assert sorted(tickets) == list(range(people))


def test_one_message_of_a_conversation_at_a_time_across_processes(
    prefix: str,
) -> None:
    """Two processes handle 15 messages each of one conversation; each
    message reads, waits and writes back a shared count, as a tracker is
    loaded, changed and saved. Nothing may overlap, nothing may be lost."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    count, inside = f"{prefix}:count", f"{prefix}:inside"
    overlaps: list[str] = []

    async def handle(lock_store: LockStore, name: str) -> None:
        async def one_message() -> None:
            async with lock_store.lock("same-conversation"):
                if not client.set(inside, name, nx=True):
                    overlaps.append(name)
                seen = int(client.get(count) or 0)
                await asyncio.sleep(0.01)
                client.set(count, seen + 1)
                client.delete(inside)

        await asyncio.gather(*(one_message() for _ in range(15)))

    def process(name: str) -> None:
        asyncio.run(handle(store(prefix), name))

    threads = [threading.Thread(target=process, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert int(client.get(count) or 0) == 30
    # Nothing is left behind once every message is handled.
    assert not list(client.scan_iter(f"{prefix}:*same-conversation*"))
