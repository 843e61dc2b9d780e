"""Run a blocking iterator (a LangChain stream) in one worker thread and read it from the event loop.

The whole iterator runs in the same thread from start to end (its SQLite connection and the objects it built
stay in that thread), the event loop never blocks on it, and a consumer that goes away (a client that
disconnected) stops it at its next item.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio.to_thread

_END = object()


async def in_thread(factory: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Items of ``factory()``, produced in a worker thread; its exception is raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(ok: bool, item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (ok, item))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def produce() -> None:
        try:
            for item in factory():
                if stop.is_set():
                    return
                put(True, item)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(False, exc)
            return
        put(True, _END)

    task = asyncio.ensure_future(anyio.to_thread.run_sync(produce))
    try:
        while True:
            ok, item = await queue.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        if task.done() and not task.cancelled():
            task.exception()  # retrieved, so it is never reported as unhandled
