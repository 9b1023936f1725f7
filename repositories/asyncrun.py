"""How the async API runs the shared core's calls without blocking the event loop.

Every call of `repositories.asyncdb` is one call of the synchronous core (validation,
stamping, scoping, lookups, outcome resolution: one implementation), run by a `Runner`:

- `ThreadRunner` (SQLite, JSON store): the blocking call runs in a bounded pool of worker
  threads. A transaction belongs to a thread in the core (SQL connection, JSON locks and
  undo log), so an ``async with db.transaction()`` pins a thread of its own to the task
  that opened it: every call of that task inside the block runs there, in order.
- `repositories.sqlasync.GreenletRunner` (PostgreSQL): the core runs on SQLAlchemy's
  asyncio engine, its driver awaited through greenlets on the event loop's thread.

A task is the async counterpart of a thread: a transaction is the opening task's (tasks
it starts meanwhile run outside it, as other threads do in the synchronous API).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

__all__ = ["Runner", "ThreadRunner"]

R = TypeVar("R")


class Runner(Protocol):
    """Runs a blocking call of the core for a coroutine."""

    async def call(self, fn: Callable[..., R], *args: Any) -> R:
        """`fn(*args)` off the event loop (or on it, never blocking it)."""
        ...

    def pinned(self) -> AbstractAsyncContextManager[None]:
        """While open, the calling task's calls run where its transaction lives."""
        ...

    async def close(self) -> None:
        """Release the runner's threads (after the database closed)."""
        ...


class ThreadRunner:
    """Blocking calls in a bounded pool of threads; a transaction's in a thread of its own.

    Args:
        workers: threads at most (SQL: the connection pool's size, since each thread
            keeps a connection of its own; JSON store: how many file operations may wait
            on the disk at once).
        name: thread name prefix (seen in debuggers and ``py-spy``).
        limiter: for the JSON store, an anyio ``CapacityLimiter``: calls then run in
            anyio's worker threads, at most its number at once (its threads come and go;
            the store keeps no state in a thread outside a transaction).
    """

    def __init__(self, workers: int, name: str, limiter: Any = None) -> None:
        self._name = name
        self._workers = workers
        self._limiter = limiter
        self._pool: ThreadPoolExecutor | None = None  # made on first use, again after close
        self._pins: weakref.WeakKeyDictionary[asyncio.Task[Any], Executor] = (
            weakref.WeakKeyDictionary()
        )

    async def call(self, fn: Callable[..., R], *args: Any) -> R:
        task = asyncio.current_task()
        pinned = self._pins.get(task) if task is not None else None
        if pinned is not None:
            return await asyncio.wrap_future(pinned.submit(fn, *args))
        if self._limiter is not None:
            import anyio.to_thread

            work = functools.partial(fn, *args)
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        pool = self._pool
        if pool is None:
            pool = self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
        return await asyncio.wrap_future(pool.submit(fn, *args))

    @contextlib.asynccontextmanager
    async def _pinned(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is None or task in self._pins:  # nested: the thread is already there
            yield
            return
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self._name}-tx")
        self._pins[task] = thread
        try:
            yield
        finally:
            del self._pins[task]
            thread.shutdown(wait=False)

    def pinned(self) -> AbstractAsyncContextManager[None]:
        return self._pinned()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)
