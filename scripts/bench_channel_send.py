"""Sending answers to a provider: one connection pool per process, against a
new connection per message.

Relais' channels (bot/channels/provider.py) send every answer through one
aiohttp session per Rasa process. The baseline, measured in the same run, is
a new session per message (what the first version did). Both post the same
Messenger messages to the local provider stand-in (tests/providers.py), one
after the other and 50 at a time. The stand-in is plain HTTP on the loopback:
the real API adds a TLS handshake to every new connection, so the gain on the
internet is larger than measured here. No timing is asserted: figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels import provider  # noqa: E402
from tests.providers import Accounts, provider_stand_in  # noqa: E402

ACCOUNTS = Accounts("page-token", "ig-token", "wa-token", "1065", "1:tg")
MESSAGES = 300
AT_ONCE = 50
ROUNDS = 3

Send = Callable[[str, dict], Awaitable[None]]


def payload(number: int) -> dict:
    return {
        "recipient": {"id": f"person-{number % 40}"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Les lots concernés vont de L26304 à L26318."},
    }


async def pooled(url: str, body: dict) -> None:
    await provider.post_json(
        "messenger", url, body, params={"access_token": ACCOUNTS.messenger_token}
    )


async def new_connection(url: str, body: dict) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, json=body, params={"access_token": ACCOUNTS.messenger_token}
        ) as answer,
    ):
        await answer.text()
        assert answer.status == 200


async def one_by_one(send: Send, url: str) -> float:
    started = time.perf_counter()
    for number in range(MESSAGES):
        await send(url, payload(number))
    return time.perf_counter() - started


async def side_by_side(send: Send, url: str) -> float:
    started = time.perf_counter()
    for first in range(0, MESSAGES, AT_ONCE):
        await asyncio.gather(
            *(send(url, payload(n)) for n in range(first, first + AT_ONCE))
        )
    return time.perf_counter() - started


async def measure(url: str) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    for _ in range(ROUNDS):  # interleaved, so both see the same machine
        for name, send in (("new connection", new_connection), ("pooled", pooled)):
            for kind, run in (("one by one", one_by_one), ("50 at once", side_by_side)):
                figures.setdefault(f"{name}, {kind}", []).append(await run(send, url))
    await provider.close_pool()
    return figures


def main() -> None:
    with provider_stand_in(ACCOUNTS) as stand_in:
        url = f"{stand_in.graph_url}/me/messages"
        figures = asyncio.run(measure(url))
        assert not stand_in.refused(), stand_in.refused()
    print(f"{MESSAGES} Messenger messages to the local stand-in, median of {ROUNDS}")
    base = {}
    for name, times in figures.items():
        median = statistics.median(times)
        kind = name.split(", ")[1]
        base.setdefault(kind, median)
        print(
            f"  {name:28} {median:6.2f} s  {MESSAGES / median:7.0f} msg/s  "
            f"x{base[kind] / median:.2f} of the baseline"
        )


if __name__ == "__main__":
    main()
