"""The async API driven synchronously, so the one contract suite runs on it unchanged.

An event loop runs in a thread of its own, and one task in it runs every call the test
makes, in order: a transaction the test opens stays that task's, as it would in a
service. Each call goes through the real async API (`repositories.connect_async`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from models.base import Record
from repositories import AsyncDatabase, AsyncRepository, Context

R = TypeVar("R")
Job = Callable[[], Awaitable[Any]]


class Driver:
    """An event loop in a thread and the one task there that awaits every call."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.jobs: asyncio.Queue[tuple[Job, concurrent.futures.Future[Any]] | None]
        self.jobs = asyncio.run_coroutine_threadsafe(self._queue(), self.loop).result()
        self.serving = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        self.views: weakref.WeakKeyDictionary[AsyncDatabase, SyncDatabase]
        self.views = weakref.WeakKeyDictionary()

    @staticmethod
    async def _queue() -> asyncio.Queue[Any]:
        return asyncio.Queue()

    async def _serve(self) -> None:
        while (item := await self.jobs.get()) is not None:
            job, done = item
            try:
                done.set_result(await job())
            except BaseException as exc:  # handed to the test, as the sync API raises it
                done.set_exception(exc)

    def run(self, job: Callable[[], Awaitable[R]]) -> R:
        done: concurrent.futures.Future[R] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self.jobs.put_nowait, (job, done))
        return done.result(timeout=300)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.jobs.put_nowait, None)
        self.serving.result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=60)
        self.loop.close()


class SyncRepository:
    """An `AsyncRepository` behind the synchronous `Repository` interface."""

    def __init__(self, repo: AsyncRepository[Any], driver: Driver) -> None:
        self._repo = repo
        self._driver = driver
        self.model = repo.model

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._repo, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._driver.run(lambda: method(*args, **kwargs))

        return call

    def iter(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        stream = self._repo.iter(*args, **kwargs)
        try:
            while True:
                try:
                    item = self._driver.run(stream.__anext__)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            self._driver.run(stream.aclose)


class SyncDatabase:
    """An `AsyncDatabase` behind the synchronous `Database` interface."""

    def __init__(self, db: AsyncDatabase, driver: Driver) -> None:
        self._db = db
        self._driver = driver

    @property
    def url(self) -> str:
        return self._db.url

    @property
    def context(self) -> Context:
        return self._db.context

    def repository(self, model: type[Record]) -> SyncRepository:
        return SyncRepository(self._db.repository(model), self._driver)

    def with_context(self, context: Context) -> SyncDatabase:
        view = self._db.with_context(context)  # cached: so is its facade
        facade = self._driver.views.get(view)
        if facade is None:
            facade = self._driver.views[view] = SyncDatabase(view, self._driver)
        return facade

    @contextlib.contextmanager
    def transaction(self, *models: type[Record]) -> Iterator[None]:
        block = self._db.transaction(*models)
        self._driver.run(block.__aenter__)
        try:
            yield
        except BaseException as exc:
            leave = functools.partial(block.__aexit__, type(exc), exc, exc.__traceback__)
            if not self._driver.run(leave):
                raise
        else:
            self._driver.run(lambda: block.__aexit__(None, None, None))

    def ensure_schema(self, *models: type[Record]) -> None:
        self._driver.run(lambda: self._db.ensure_schema(*models))

    def initial_id(self, model: type[Record]) -> str | None:
        return self._driver.run(lambda: self._db.initial_id(model))

    def set_initial_id(self, model: type[Record], record_id: str) -> None:
        self._driver.run(lambda: self._db.set_initial_id(model, record_id))

    def close(self) -> None:
        self._driver.run(self._db.close)
