"""The async API: `AsyncDatabase` and `AsyncRepository`, opened by `connect_async`.

The same contract as `repositories.contract`, awaitable: ``await repo.get(id)``,
``async for obj in repo.iter(...)``, ``async with db.transaction():``. Each method is
one call of the backend's synchronous repository (`repositories.base.RepositoryBase`:
the one implementation of validation, stamping, access scoping, lookups, errors and the
settling of writes whose connection dropped), run by a `repositories.asyncrun.Runner`
that never blocks the event loop: in a bounded pool of threads by default (every
backend), or natively on asyncio for PostgreSQL with ``native=True``
(`repositories.sqlasync`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Generic, TypeVar, cast

from models.base import Record
from repositories.asyncrun import Runner, ThreadRunner
from repositories.base import ContextCache, DatabaseBase, RepositoryBase
from repositories.context import Context
from repositories.contract import Database, OrderBy, Where
from repositories.errors import InvalidQuery
from repositories.keyset import Page
from repositories.urls import redact_url

__all__ = ["AsyncDatabase", "AsyncRepository", "open_async"]

T = TypeVar("T", bound=Record)
_STOP = object()


class AsyncRepository(Generic[T]):
    """`Repository` for asyncio: the same methods with the same arguments, awaitable.

    `iter` is an async iterator that streams (one batch in memory at a time).
    """

    def __init__(self, model: type[T], database: AsyncDatabase) -> None:
        self.model = model
        self._database = database
        self._runner = database._runner
        self._sync: RepositoryBase[T] | None = None

    async def _repo(self) -> RepositoryBase[T]:
        repo = self._sync
        if repo is None:  # made off the loop: a SQLite repository may check its table first
            database, model = self._database._sync, self.model

            def make() -> RepositoryBase[T]:
                return database.repository(model)

            repo = self._sync = await self._runner.call(make)
        return repo

    async def create(self, obj: T) -> T:
        """Store a new record; `obj` itself comes back, stamped (audit fields, mandate)."""
        return await self._runner.call((self._sync or await self._repo()).create, obj)

    async def create_many(self, objs: Iterable[T], batch_size: int = 1000) -> list[T]:
        """Store new records atomically (``COPY`` on PostgreSQL), stamped as by `create`."""
        repo = self._sync or await self._repo()
        return await self._runner.call(repo.create_many, objs, batch_size)

    async def get(self, record_id: str) -> T | None:
        return await self._runner.call((self._sync or await self._repo()).get, record_id)

    async def find(
        self,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[T]:
        repo = self._sync or await self._repo()
        return await self._runner.call(repo.find, where, order_by, limit, offset)

    async def iter(
        self, where: Where = None, batch_size: int = 1000, order_by: OrderBy = None
    ) -> AsyncIterator[T]:
        """The matching records, streamed: the backend is read a batch at a time."""
        batches = (self._sync or await self._repo()).batches(where, batch_size, order_by)
        done = False
        try:
            while True:
                batch = await self._runner.call(next, batches, _STOP)
                if batch is _STOP:
                    done = True
                    return
                for obj in batch:
                    yield obj
        finally:
            if not done:  # left early: the stream's connection goes back now
                await self._runner.call(batches.close)

    async def page(
        self,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[T]:
        repo = self._sync or await self._repo()
        return await self._runner.call(repo.page, where, order_by, limit, after)

    async def count(self, where: Where = None) -> int:
        return await self._runner.call((self._sync or await self._repo()).count, where)

    async def update(
        self,
        record_id: str,
        changes: Mapping[str, Any],
        expected_modified_at: float | None = None,
    ) -> T:
        """Change fields; with `expected_modified_at` a compare-and-set
        (`ConcurrentModification` when the record changed meanwhile)."""
        repo = self._sync or await self._repo()
        return await self._runner.call(repo.update, record_id, changes, expected_modified_at)

    async def upsert(self, obj: T) -> T:
        return await self._runner.call((self._sync or await self._repo()).upsert, obj)

    async def delete(self, record_id: str, expected_modified_at: float | None = None) -> bool:
        repo = self._sync or await self._repo()
        return await self._runner.call(repo.delete, record_id, expected_modified_at)

    async def delete_many(self, where: Where) -> int:
        return await self._runner.call((self._sync or await self._repo()).delete_many, where)

    async def import_rows(
        self,
        rows: Iterable[Mapping[str, Any] | T],
        batch_size: int = 1000,
        skip_existing: bool = True,
    ) -> int:
        """`Repository.import_rows` (system context only)."""
        repo = self._sync or await self._repo()
        return await self._runner.call(repo.import_rows, rows, batch_size, skip_existing)

    def __repr__(self) -> str:
        return f"<AsyncRepository {self.model.__name__} of {self._database!r}>"


class AsyncDatabase:
    """`Database` for asyncio, from `repositories.connect_async`.

    ``await db.close()`` (or ``async with connect_async(...) as db:``) closes it.
    """

    url: str
    context: Context

    def __init__(
        self, sync: DatabaseBase, runner: Runner, _views: ContextCache[AsyncDatabase] | None = None
    ) -> None:
        self._sync = sync
        self._api = cast(Database, sync)  # every backend's database is one
        self._runner = runner
        self._views = _views or ContextCache()
        self.url = sync.url
        self.context = sync.context
        self._repositories: dict[type[Record], AsyncRepository[Any]] = {}

    @property
    def sync(self) -> DatabaseBase:
        """The synchronous database underneath (for tools; its calls block)."""
        return self._sync

    def repository(self, model: type[T]) -> AsyncRepository[T]:
        repo = self._repositories.get(model)
        if repo is None:
            if not (isinstance(model, type) and issubclass(model, Record)):
                raise InvalidQuery(f"{model!r} is not a Record model")
            repo = self._repositories[model] = AsyncRepository(model, self)
        return repo

    def with_context(self, context: Context) -> AsyncDatabase:
        """The same connections and threads as another caller (cached, cheap)."""
        return self._views.get(
            context,
            lambda ctx: AsyncDatabase(
                cast(DatabaseBase, self._api.with_context(ctx)), self._runner, self._views
            ),
        )

    @contextlib.asynccontextmanager
    async def _transaction(self, models: tuple[type[Record], ...]) -> AsyncIterator[None]:
        run = self._runner.call
        async with self._runner.pinned():
            begin: Any = self._sync.transaction
            block = await run(begin, *models)
            await run(block.__enter__)
            try:
                yield
            except BaseException as exc:
                if not await run(block.__exit__, type(exc), exc, exc.__traceback__):
                    raise
            else:
                await run(block.__exit__, None, None, None)

    def transaction(self, *models: type[Record]) -> contextlib.AbstractAsyncContextManager[None]:
        """``async with db.transaction():`` all or nothing, as `Database.transaction`.

        The block belongs to the task that opens it; a caught error inside it undoes that
        one statement only. JSON store: `models` are the tables to lock up front.
        """
        return self._transaction(models)

    async def ensure_schema(self, *models: type[Record]) -> None:
        await self._runner.call(self._api.ensure_schema, *models)

    async def initial_id(self, model: type[Record]) -> str | None:
        return await self._runner.call(self._api.initial_id, model)

    async def set_initial_id(self, model: type[Record], record_id: str) -> None:
        await self._runner.call(self._api.set_initial_id, model, record_id)

    async def close(self) -> None:
        """Close the database (every context of it) and release its threads."""
        await self._runner.call(self._sync.close)
        await self._runner.close()

    async def __aenter__(self) -> AsyncDatabase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncDatabase {redact_url(self.url)} as {self.context.user_id}>"


def open_async(sync: DatabaseBase) -> AsyncDatabase:
    """`sync` (a database `repositories.connect` opened) for asyncio, with its runner."""
    from sqlalchemy.pool import StaticPool

    from repositories.sql import SqlDatabase

    if isinstance(sync, SqlDatabase):
        options = sync._core.options
        # a thread keeps a connection of its own, and a call that opens a transaction
        # (create_many, upsert, ``async with db.transaction()``) takes another: threads
        # for half the pool, the other half for transactions
        capacity = options.pool_size + options.overflow
        workers = max(1, capacity // 2) if sync.dialect == "postgresql" else 8
        if isinstance(sync.engine.pool, StaticPool):  # SQLite in memory: one connection
            workers = 1
        return AsyncDatabase(sync, ThreadRunner(workers, "connectors-sql"))
    import anyio

    return AsyncDatabase(sync, ThreadRunner(0, "connectors-json", anyio.CapacityLimiter(8)))
