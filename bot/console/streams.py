"""Live pages: server-sent events that follow a reading of the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from bot.console.security import current_viewer

# How often a live stream looks for changes, and sends a keep-alive.
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 3600.0


async def stream(
    request: Request, read: Callable[..., Any], *args: Any
) -> AsyncIterator[str]:
    """Sends `read(*args)` as an event whenever it changes, until the tab closes.

    A stream also ends after `app.state.stream_events` events (tests) or an
    hour; the browser's EventSource reconnects by itself.
    """
    last = None
    quiet = 0.0
    sent = 0
    limit = getattr(request.app.state, "stream_events", None)
    deadline = asyncio.get_running_loop().time() + STREAM_SECONDS
    while not await request.is_disconnected():
        if (limit is not None and sent >= limit) or (
            asyncio.get_running_loop().time() > deadline
        ):
            return
        if await current_viewer(request) is None:
            return  # signed out, disabled or password changed: nothing more
        try:
            data = await run_in_threadpool(read, *args)
        except Exception as error:  # a stream must not die on one bad read
            data = {"error": f"{type(error).__name__}: {error}"}
        encoded = json.dumps(data, ensure_ascii=False, default=str)
        if encoded != last:
            last = encoded
            quiet = 0.0
            sent += 1
            yield f"data: {encoded}\n\n"
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)
        quiet += POLL_SECONDS


def event_stream(generator: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        generator,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
