"""PostgreSQL for the async API: the SQL backend on SQLAlchemy's asyncio engine.

The backend's code is the synchronous one (`repositories.sql`, `repositories.sqlcore`):
it runs on the ``sync_engine`` of an asyncio engine, inside ``greenlet_spawn``, where
every driver call is awaited on the event loop (SQLAlchemy's own ``AsyncSession`` works
this way). So there is one implementation of statements, COPY, error translation and the
settling of dropped writes, and no thread is involved: a call blocks nothing but its task.

What differs from the threaded core is where per-caller state lives. A transaction is
the task's (`TaskLocal`), and outside one, calls share a stack of idle connections
(`AsyncSqlCore`).

Used with ``connect_async(url, native=True)``. It is not the default: on 64 concurrent
point reads (``python -m benchmarks.async_repository``, 2 busy cores) it reached 0.4-0.55
of the raw async driver's throughput, where the default, the synchronous core on psycopg2
in a bounded pool of threads (`repositories.asyncrun.ThreadRunner`), reached 0.8-1.6:
each call here pays for a greenlet, SQLAlchemy's async adaptation of the driver and
asyncio's own per-await work on top of psycopg 3's async I/O, while psycopg2 waits on the
network in C with the GIL released. Native is for services that want no threads at all,
or calls that a task cancellation must interrupt mid-statement.

The driver is psycopg 3's async one (``postgresql+psycopg``), chosen over asyncpg: it
takes the same libpq parameters as the synchronous drivers (``options`` such as a
``search_path`` or ``statement_timeout``, ``connect_timeout``, ``application_name``), works
through PgBouncer in transaction pooling with server-side prepares off, and shares the
COPY path of psycopg 3. Measured raw (64 tasks, 16 connections, same scoped SELECT) the
two were within 15% of each other, either one ahead from run to run, far less than the
cost of the layers above; asyncpg would need a second COPY path and connection
parameters of its own (``benchmarks.async_repository`` prints both drivers).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_only, greenlet_spawn

from repositories.context import Context
from repositories.sqlcore import SqlCore
from repositories.sqloptions import SqlOptions

if TYPE_CHECKING:
    from repositories.asyncdb import AsyncDatabase

__all__ = ["AsyncSqlCore", "GreenletRunner", "TaskLocal", "open_postgres"]

R = TypeVar("R")
_IDLE_RECHECK_SECONDS = 30.0


class TaskLocal:
    """`threading.local` for asyncio tasks: attributes of the current task's own."""

    def __init__(self) -> None:
        spaces: weakref.WeakKeyDictionary[asyncio.Task[Any], dict[str, Any]]
        spaces = weakref.WeakKeyDictionary()
        object.__setattr__(self, "_spaces", spaces)
        object.__setattr__(self, "_outside", {})  # no task (never on a running loop)

    def _space(self) -> dict[str, Any]:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        if task is None:
            outside: dict[str, Any] = object.__getattribute__(self, "_outside")
            return outside
        spaces = object.__getattribute__(self, "_spaces")
        space: dict[str, Any] | None = spaces.get(task)
        if space is None:
            space = spaces[task] = {}
        return space

    def __getattr__(self, name: str) -> Any:
        try:
            return self._space()[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._space()[name] = value


class AsyncSqlCore(SqlCore):
    """`SqlCore` on an asyncio engine (psycopg 3's async driver), run in greenlets.

    Outside a transaction a thread keeps a connection of its own; tasks are too many and
    too short-lived for that, so calls share a stack of idle autocommit connections
    instead (taking one costs nothing; the pool's checkout, reset and checkin would cost
    as much as a third of a point read). The stack holds at most the pool's capacity;
    past it a call waits for one to come back. A transaction, a stream or DDL checks out
    of the pool itself: idle connections of the stack give their place up first, and
    while one waits, connections coming back go to the pool rather than the stack.
    """

    def __init__(self, url: str, create_tables: bool | None, options: SqlOptions) -> None:
        # whatever driver the URL names: psycopg 3 (its connection parameters follow)
        super().__init__("postgresql+psycopg://" + url.split("://", 1)[1], create_tables, options)
        self.local = TaskLocal()  # type: ignore[assignment]
        self._capacity = options.pool_size + options.overflow
        self._idle: list[tuple[Connection, float]] = []
        self._held = 0  # the stack's connections, idle or in use
        self._outside = 0  # checkouts of the pool waiting for room
        self._waiters: collections.deque[asyncio.Future[Connection | None]] = collections.deque()

    def _create_engine(self, url: URL, kwargs: dict[str, Any]) -> Engine:
        from sqlalchemy.ext.asyncio import create_async_engine

        return create_async_engine(url, **kwargs).sync_engine

    def _pool_full(self) -> bool:
        checked_out: int = self.engine.pool.checkedout()  # type: ignore[attr-defined]
        return checked_out >= self._capacity

    def idle_connection(self) -> Connection:
        while True:
            now = time.monotonic()
            while self._idle:
                conn, used = self._idle.pop()
                if not conn.invalidated and now - used <= _IDLE_RECHECK_SECONDS:
                    return conn
                self._close(conn)  # checking out again pre-pings a connection idle for long
            if self._held < self._capacity:
                self._held += 1
                try:
                    return self.autocommit.connect()
                except BaseException:
                    self._held -= 1
                    raise
            handed = self._wait()
            if handed is not None:
                return handed

    def _wait(self) -> Connection | None:
        """Wait for a call to give its connection back (None: room in the pool now)."""
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await_only(asyncio.wait_for(waiter, self.options.pool_timeout))
        except TimeoutError:
            raise sa_exc.TimeoutError(
                f"no connection free within {self.options.pool_timeout:g}s "
                f"(pool_size + max_overflow = {self._capacity})"
            ) from None
        except BaseException:
            if waiter.done() and not waiter.cancelled() and (conn := waiter.result()):
                self.release(conn)  # handed over as the caller was cancelled
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def release(self, conn: Connection) -> None:
        if conn.closed or conn.invalidated:
            self._close(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if self._outside and self._pool_full():
            self._close(conn)  # a transaction waits for the pool
        else:
            self._idle.append((conn, time.monotonic()))

    def _close(self, conn: Connection) -> None:
        self._held -= 1
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            conn.close()
        while self._waiters:  # a place in the stack is free: a waiter checks out anew
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def drop_idle(self, conn: Connection | None = None) -> None:
        if conn is not None:
            self._close(conn)

    def checkout(self, engine: Engine) -> Connection:
        self._outside += 1
        try:
            while self._idle and self._pool_full():
                self._close(self._idle.pop(0)[0])  # the longest idle gives its place up
            return engine.connect()
        finally:
            self._outside -= 1

    def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._close(conn)
        super().dispose()


class GreenletRunner:
    """Runs the core's calls in greenlets on the event loop (`AsyncSqlCore`)."""

    async def call(self, fn: Callable[..., R], *args: Any) -> R:
        result: R = await greenlet_spawn(fn, *args)
        return result

    @contextlib.asynccontextmanager
    async def _pinned(self) -> AsyncIterator[None]:
        yield  # a transaction is the task's already (`TaskLocal`)

    def pinned(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._pinned()

    async def close(self) -> None:
        return None


def open_postgres(
    url: str, context: Context | None, create_tables: bool | None = None, **options: Any
) -> AsyncDatabase:
    """The async database at the PostgreSQL `url` on the asyncio engine (no replicas:
    their lag checks are synchronous)."""
    from repositories.asyncdb import AsyncDatabase
    from repositories.sql import SqlDatabase

    core = AsyncSqlCore(url, create_tables, SqlOptions.of(**options))
    return AsyncDatabase(SqlDatabase(url, context, _core=core), GreenletRunner())
