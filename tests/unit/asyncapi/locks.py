"""A lock held by another thread, for tests that an async call waits without blocking."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from repositories import Database


@contextlib.contextmanager
def held(db: Database, action: Callable[[], object]) -> Iterator[threading.Event]:
    """`action` inside a transaction of `db` in another thread, kept open (its locks held)
    until the yielded event is set or the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.transaction():
            action()
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(30)
    try:
        yield release
    finally:
        release.set()
        thread.join(30)


async def still_waiting(call: asyncio.Task[Any]) -> None:
    """The loop runs on while `call` waits for the lock."""
    for _ in range(5):
        await asyncio.sleep(0.02)
        assert not call.done()
