"""What only the async API has: tasks, concurrency, streams left early, its options.

The contract itself (every method, error and scope) runs on the async API in
tests/contract (the ``async`` parametrisation).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from models import Property, User
from repositories import (
    AccessDenied,
    AsyncDatabase,
    Context,
    InvalidQuery,
    connect,
    connect_async,
)
from tests.unit.asyncapi.locks import held, still_waiting

ANN = Context("ann", "acme", "user")


@pytest.fixture(params=["sqlite", "jsonfile"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'async.db'}"
    return f"jsonfile://{tmp_path / 'store'}"


def opened(url: str, context: Context | None = None) -> AsyncDatabase:
    options = {"durability": "none"} if url.startswith("jsonfile") else {}
    return connect_async(url, context=context, **options)


def test_many_tasks_at_once(url: str) -> None:
    async def main() -> None:
        async with opened(url) as db:
            await db.ensure_schema(User)
            users = db.with_context(ANN).repository(User)
            made = await asyncio.gather(
                *(users.create(User(username=f"u{i}", mandate_id="acme")) for i in range(40))
            )
            got = await asyncio.gather(*(users.get(u.id) for u in made))
            assert got == made and await users.count() == 40
            assert all(u.created_by == "ann" for u in got)

    asyncio.run(main())


def test_a_transaction_is_its_tasks_own() -> None:
    """Another task runs outside the block: it never sees what the block has not committed."""

    class Boom(Exception):
        pass

    async def main(tmp: str) -> None:
        async with connect_async(f"sqlite:///{tmp}/tx.db") as db:
            await db.ensure_schema(User)
            users = db.repository(User)
            with pytest.raises(Boom):
                async with db.transaction():
                    await users.create(User(id="inside", username="x", mandate_id="m"))
                    assert await users.get("inside") is not None
                    outside = asyncio.create_task(users.get("inside"))
                    assert await outside is None  # WAL: the other task reads the last commit
                    raise Boom
            assert await users.get("inside") is None
            async with db.transaction():
                await users.create(User(id="kept", username="y", mandate_id="m"))
            assert (await users.get("kept")) is not None

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(tmp))


def test_a_stream_left_early_gives_its_connection_back(url: str) -> None:
    async def main() -> None:
        async with opened(url) as db:
            await db.ensure_schema(Property)
            props = db.repository(Property)
            await props.create_many([Property(title=f"p{i}", mandate_id="m") for i in range(25)])
            seen = []
            stream = props.iter(batch_size=4, order_by="title")
            async for prop in stream:
                seen.append(prop.title)
                if len(seen) == 6:
                    break
            await stream.aclose()  # type: ignore[attr-defined]
            assert seen == sorted(seen) and len(seen) == 6
            assert len([p async for p in props.iter(batch_size=10)]) == 25
            assert await props.delete_many({}) == 25

    asyncio.run(main())


def test_errors_are_the_sync_ones(url: str) -> None:
    async def main() -> None:
        async with opened(url) as db:
            await db.ensure_schema(Property)
            props = db.with_context(ANN).repository(Property)
            assert db.with_context(ANN) is db.with_context(Context("ann", "acme", "user"))
            with pytest.raises(AccessDenied):
                await props.create(Property(title="x", mandate_id="other"))
            with pytest.raises(InvalidQuery):
                await props.find({"nope__eq": 1})
            with pytest.raises(InvalidQuery):
                [p async for p in props.iter(batch_size=0)]
            with pytest.raises(InvalidQuery):
                db.repository(dict)  # type: ignore[type-var]

    asyncio.run(main())


def test_options_are_checked_as_by_connect(tmp_path: Path) -> None:
    with pytest.raises(InvalidQuery, match="pool_sise"):
        connect_async(f"sqlite:///{tmp_path / 'x.db'}", pool_sise=3)
    with pytest.raises(InvalidQuery, match="durable"):
        connect_async(f"jsonfile://{tmp_path}", durable=True)


def test_sqlite_in_memory_is_one_connection_used_by_one_thread() -> None:
    async def main() -> None:
        async with connect_async("sqlite://") as db:
            await db.ensure_schema(User)
            users = db.repository(User)
            await asyncio.gather(
                *(users.create(User(username=f"u{i}", mandate_id="m")) for i in range(30))
            )
            counts = await asyncio.gather(*(users.count() for _ in range(10)))
            assert counts == [30] * 10

    asyncio.run(main())


def test_a_call_waiting_on_a_lock_leaves_the_loop_running(url: str) -> None:
    """Another thread holds the table (a JSON store lock; SQLite's write lock): the async
    write waits in its thread while the loop goes on, and completes once it is released."""
    options = {"durability": "none", "lock_timeout": 30} if url.startswith("jsonfile") else {}
    holder = connect(url, **options)
    holder.ensure_schema(User)
    held_user = User(id="held", username="h", mandate_id="m")

    async def main(release: threading.Event) -> None:
        async with opened(url) as db:
            users = db.repository(User)
            write = asyncio.create_task(users.create(User(username="w", mandate_id="m")))
            await still_waiting(write)
            release.set()
            await write
            assert await users.count() == 2

    try:
        with held(holder, lambda: holder.repository(User).create(held_user)) as release:
            asyncio.run(main(release))
    finally:
        holder.close()
