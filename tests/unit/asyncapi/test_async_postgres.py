"""PostgreSQL under the async API: the default thread runner and the native path
(`repositories.sqlasync`: greenlets on one event loop, per-task transactions, a connection
stack that shares the pool's capacity with transactions and streams)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from models import Property, User
from repositories import Context, InvalidQuery, connect, connect_async
from repositories.asyncrun import ThreadRunner
from repositories.sql import SqlDatabase
from repositories.sqlasync import AsyncSqlCore, GreenletRunner
from tests.unit.asyncapi.locks import held, still_waiting

pytestmark = pytest.mark.postgres
ANN = Context("ann", "acme", "user")


def test_native_runs_on_the_event_loop(pg_url: str, tmp_path: Path) -> None:
    db = connect_async(pg_url, native=True)
    assert isinstance(db._runner, GreenletRunner)
    assert isinstance(db.sync, SqlDatabase) and isinstance(db.sync._core, AsyncSqlCore)
    asyncio.run(db.close())
    default = connect_async(pg_url)
    assert isinstance(default._runner, ThreadRunner)
    asyncio.run(default.close())
    with pytest.raises(InvalidQuery, match="PostgreSQL"):
        connect_async(f"sqlite:///{tmp_path / 'x.db'}", native=True)
    with pytest.raises(InvalidQuery, match="replicas"):
        connect_async(pg_url, native=True, replicas=[pg_url])


@pytest.mark.parametrize("native", [True, False], ids=["native", "threads"])
def test_tasks_share_a_small_pool_with_transactions_and_streams(pg_url: str, native: bool) -> None:
    """A few connections for 30 tasks, a transaction loop, bulk inserts and a stream: no
    call waits for a connection kept idle."""

    async def main() -> None:
        # threads: each keeps a connection (capacity // 2 threads), so twice the room
        options = {"pool_size": 2 if native else 4, "max_overflow": 0, "pool_timeout": 10}
        async with connect_async(pg_url, native=native, **options) as db:
            await db.ensure_schema(User, Property)
            users = db.with_context(ANN).repository(User)
            made = await users.create_many(
                [User(username=f"u{i}", mandate_id="acme") for i in range(30)]
            )

            async def reader(user: User) -> None:
                for _ in range(5):
                    found = await users.get(user.id)
                    assert found is not None and found.username == user.username

            async def writer() -> None:
                for i in range(5):
                    async with db.transaction():
                        await users.update(made[i].id, {"age": i})
                        assert (await users.get(made[i].id)).age == i  # type: ignore[union-attr]

            async def bulk() -> None:
                props = db.repository(Property)
                for i in range(3):
                    await props.create_many(
                        [Property(title=f"{i}-{n}", mandate_id="acme") for n in range(50)]
                    )

            async def stream() -> None:
                assert len([u async for u in users.iter(batch_size=7)]) == 30

            await asyncio.gather(*(reader(u) for u in made), writer(), bulk(), stream())
            assert await db.repository(Property).count() == 150

    asyncio.run(main())


def test_a_transaction_is_its_tasks_own(pg_url: str) -> None:
    class Boom(Exception):
        pass

    async def main() -> None:
        async with connect_async(pg_url, native=True) as db:
            await db.ensure_schema(User)
            users = db.repository(User)
            with pytest.raises(Boom):
                async with db.transaction():
                    await users.create(User(id="inside", username="x", mandate_id="m"))
                    assert await users.get("inside") is not None
                    assert await asyncio.create_task(users.get("inside")) is None
                    raise Boom
            assert await users.get("inside") is None

    asyncio.run(main())


def test_a_cancelled_call_leaves_the_pool_whole(pg_url: str) -> None:
    async def main() -> None:
        async with connect_async(
            pg_url, native=True, pool_size=1, max_overflow=0, pool_timeout=10
        ) as db:
            await db.ensure_schema(User)
            users = db.repository(User)
            await users.create(User(id="a", username="a", mandate_id="m"))
            calls = [asyncio.create_task(users.count({"username": "a"})) for _ in range(10)]
            await asyncio.sleep(0)
            for call in calls[::2]:
                call.cancel()
            done = await asyncio.gather(*calls, return_exceptions=True)
            assert all(r == 1 or isinstance(r, asyncio.CancelledError) for r in done)
            assert [await users.count() for _ in range(3)] == [1, 1, 1]  # still a connection

    asyncio.run(main())


@pytest.mark.parametrize("native", [True, False], ids=["native", "threads"])
def test_a_call_waiting_on_a_row_lock_leaves_the_loop_running(pg_url: str, native: bool) -> None:
    holder = connect(pg_url)
    holder.ensure_schema(User)
    users = holder.repository(User)
    users.create(User(id="row", username="r", mandate_id="m"))

    async def main(release: threading.Event) -> None:
        async with connect_async(pg_url, native=native) as db:
            write = asyncio.create_task(db.repository(User).update("row", {"age": 2}))
            await still_waiting(write)
            release.set()
            assert (await write).age == 2

    try:
        # the row stays locked until the holder's transaction commits
        with held(holder, lambda: users.update("row", {"age": 1})) as release:
            asyncio.run(main(release))
    finally:
        holder.close()
