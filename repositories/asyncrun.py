"""How the async API runs the shared core's calls without blocking the event loop.

Every call of `repositories.asyncdb` is one call of the synchronous core (validation,
stamping, scoping, lookups, outcome resolution: one implementation), run by a `Runner`:

- `ThreadRunner` (every backend, PostgreSQL included by default): the blocking call runs
  in a bounded pool of worker threads. A transaction belongs to a thread in the core (SQL
  connection, JSON locks and undo log), so an ``async with db.transaction()`` pins a
  thread of its own to the task that opened it: every call of that task inside the block
  runs there, in order.
- `repositories.sqlasync.GreenletRunner` (PostgreSQL with ``native=True``): the core runs
  on SQLAlchemy's asyncio engine, its driver awaited through greenlets on the event loop's
  thread (slower: see `repositories.sqlasync` for the measurements).

A task is the async counterpart of a thread: a transaction is the opening task's (tasks
it starts meanwhile run outside it, as other threads do in the synchronous API).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Callable
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


class _Threads:
    """Worker threads taking jobs from one queue; each result goes back through its loop.

    Lighter than `concurrent.futures` (one C queue, no future of its own per job, one
    wake-up of the loop per result): the loop's share of a call is what bounds the
    throughput of many tasks on few cores. Daemon threads, stopped and joined by
    `stop` or at exit (a job in progress then finishes first).
    """

    def __init__(self, count: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()
        _LIVE.add(self)

    def submit(self, fn: Callable[..., R], args: tuple[Any, ...]) -> asyncio.Future[R]:
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._jobs.put((done, fn, args))
        return done

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            done, fn, args = job
            job = None
            try:
                outcome: tuple[bool, Any] = (True, fn(*args))
            except BaseException as exc:  # handed to the awaiting task, as a call raises it
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                done.get_loop().call_soon_threadsafe(_settle, done, outcome)
            done = outcome = None  # type: ignore[assignment]

    def stop(self, wait: bool = True) -> None:
        _LIVE.discard(self)
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()


_Job = tuple["asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]
_LIVE: weakref.WeakSet[_Threads] = weakref.WeakSet()


def _settle(done: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if done.cancelled():
        return
    ok, value = outcome
    if ok:
        done.set_result(value)
    else:
        done.set_exception(value)


@atexit.register
def _stop_all() -> None:
    for threads in list(_LIVE):
        threads.stop()


class ThreadRunner:
    """Blocking calls in a bounded pool of threads; a transaction's in a thread of its own.

    Args:
        workers: threads at most (SQL: half the connection pool, since each thread keeps
            a connection of its own; JSON store: unused, see `limiter`).
        name: thread name prefix (seen in debuggers and ``py-spy``).
        limiter: for the JSON store, an anyio ``CapacityLimiter``: calls then run in
            anyio's worker threads, at most its number at once (its threads come and go;
            the store keeps no state in a thread outside a transaction).
    """

    def __init__(self, workers: int, name: str, limiter: Any = None) -> None:
        self._name = name
        self._workers = workers
        self._limiter = limiter
        self._pool: _Threads | None = None  # started on first use, again after close
        self._pins: weakref.WeakKeyDictionary[asyncio.Task[Any], _Threads] = (
            weakref.WeakKeyDictionary()
        )

    async def call(self, fn: Callable[..., R], *args: Any) -> R:
        if self._pins:  # some task is in a transaction: this one, perhaps
            task = asyncio.current_task()
            pinned = self._pins.get(task) if task is not None else None
            if pinned is not None:
                return await pinned.submit(fn, args)
        if self._limiter is not None:
            import anyio.to_thread

            work = functools.partial(fn, *args)
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        pool = self._pool
        if pool is None:
            pool = self._pool = _Threads(self._workers, self._name)
        return await pool.submit(fn, args)

    @contextlib.asynccontextmanager
    async def _pinned(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is None or task in self._pins:  # nested: the thread is already there
            yield
            return
        thread = self._pins[task] = _Threads(1, f"{self._name}-tx")
        try:
            yield
        finally:
            del self._pins[task]
            thread.stop(wait=False)  # its last job is done: the block awaited it

    def pinned(self) -> AbstractAsyncContextManager[None]:
        return self._pinned()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, pool.stop)
