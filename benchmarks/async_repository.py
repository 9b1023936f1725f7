"""The async repository on PostgreSQL vs the raw async driver and vs threads, in one run.

    python -m benchmarks.async_repository

Prints ``name: ours X/s, baseline Y/s, ratio R`` lines (R = ours / baseline throughput),
rounds alternating ours and the baseline:

- ``gets_concurrent``: 64 tasks doing point gets at once through `connect_async`, as a
  tenant user (``Context(user, mandate, "user")``: the access scope is in every query),
  vs the raw psycopg 3 async driver running the same scoped SELECT on as many connections;
- ``vs_threads``: the same 64 tasks vs the synchronous repository driven by 64 threads;
- ``create_many``: a bulk insert through the async API vs the synchronous one (both COPY).

Then, for the record of the design choices in `repositories.sqlasync`:
``gets_concurrent_native`` runs the same tasks on ``connect_async(url, native=True)``
(SQLAlchemy's asyncio engine on psycopg 3's async driver) vs the raw async driver, and
``driver_gets_concurrent`` compares the raw drivers themselves (psycopg 3 async vs
asyncpg, the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from benchmarks._pg import line, scratch_database
from models import Property
from repositories import AsyncRepository, Context, connect, connect_async

TASKS = 64
ANN = Context("ann", "acme", "user")
SELECT = 'SELECT * FROM "Property" WHERE id = %s AND "mandateId" = %s'


def properties(count: int, seed: int) -> list[Property]:
    return [
        Property(
            title=f"flat {seed}-{i}",
            city=("Bern", "Basel", "Chur")[i % 3],
            zip_code=f"{3000 + i % 900}",
            price=1000.0 + i,
            rooms=1 + i % 6,
            features={"balcony": i % 2 == 0, "floor": i % 9, "notes": "quiet " * 8},
            tags=["new", "city"],
        )
        for i in range(count)
    ]


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def slices(ids: Sequence[str], per_task: int) -> list[list[str]]:
    return [[ids[(t * per_task + i) % len(ids)] for i in range(per_task)] for t in range(TASKS)]


async def best(rounds: int, ours: Callable[[], Awaitable[Any]], base: Callable[[], Any]) -> Any:
    """Best time of each over `rounds`, alternating so background load hits both alike."""
    ours_best = base_best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        await ours()
        ours_best = min(ours_best, time.perf_counter() - start)
        start = time.perf_counter()
        outcome = base()
        if asyncio.iscoroutine(outcome):
            await outcome
        base_best = min(base_best, time.perf_counter() - start)
    return ours_best, base_best


async def gets(repo: AsyncRepository[Property], work: list[list[str]]) -> None:
    async def task(ids: list[str]) -> None:
        for record_id in ids:
            assert await repo.get(record_id) is not None

    await asyncio.gather(*(task(ids) for ids in work))


async def raw_pool(conninfo: str, size: int) -> asyncio.Queue[psycopg.AsyncConnection[Any]]:
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(size):
        pool.put_nowait(await psycopg.AsyncConnection.connect(conninfo, autocommit=True))
    return pool


async def raw_gets(
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]], work: list[list[str]]
) -> None:
    async def task(ids: list[str]) -> None:
        for record_id in ids:
            conn = await pool.get()
            try:
                cur = await conn.execute(SELECT, (record_id, "acme"))
                assert await cur.fetchone() is not None
            finally:
                pool.put_nowait(conn)

    await asyncio.gather(*(task(ids) for ids in work))


async def asyncpg_gets(url: str, size: int, work: list[list[str]], rounds: int) -> float | None:
    try:
        import asyncpg  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    pool = await asyncpg.create_pool(dsn(url), min_size=size, max_size=size)
    sql = SELECT.replace("%s", "$1", 1).replace("%s", "$2", 1)

    async def task(ids: list[str]) -> None:
        for record_id in ids:
            async with pool.acquire() as conn:
                assert await conn.fetchrow(sql, record_id, "acme") is not None

    elapsed = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        await asyncio.gather(*(task(ids) for ids in work))
        elapsed = min(elapsed, time.perf_counter() - start)
    await pool.close()
    return elapsed


async def run(url: str, args: argparse.Namespace) -> None:
    size = args.connections
    system = connect(url, pool_size=TASKS)
    system.ensure_schema(Property)
    system.with_context(ANN).repository(Property).create_many(properties(args.rows, 0))
    ids = [p.id for p in system.repository(Property).find(limit=args.rows)]
    work = slices(ids, args.gets // TASKS)
    total = len(work) * len(work[0])
    threaded = system.with_context(ANN).repository(Property)

    async with connect_async(url, pool_size=size, max_overflow=0) as db:
        repo = db.with_context(ANN).repository(Property)
        pool = await raw_pool(dsn(url), size)
        await gets(repo, work)  # warm: statements compiled, connections open
        await raw_gets(pool, work)
        ours_t, raw_t = await best(
            args.rounds, lambda: gets(repo, work), lambda: raw_gets(pool, work)
        )
        print(line("gets_concurrent", total / ours_t, total / raw_t), flush=True)

        with ThreadPoolExecutor(TASKS) as threads:

            def thread_gets() -> None:
                def one(ids: list[str]) -> None:
                    for record_id in ids:
                        assert threaded.get(record_id) is not None

                list(threads.map(one, work))

            thread_gets()
            ours_t, threads_t = await best(args.rounds, lambda: gets(repo, work), thread_gets)
        print(line("vs_threads", total / ours_t, total / threads_t), flush=True)

        made = iter([properties(args.bulk, n) for n in range(1, 2 * args.rounds + 1)])

        async def ours_create() -> None:
            await repo.create_many(next(made))

        def sync_create() -> None:
            threaded.create_many(next(made))

        ours_t, sync_t = await best(args.rounds, ours_create, sync_create)
        print(line("create_many", args.bulk / ours_t, args.bulk / sync_t), flush=True)

        async with connect_async(url, native=True, pool_size=size, max_overflow=0) as native:
            on_loop = native.with_context(ANN).repository(Property)
            await gets(on_loop, work)
            ours_t, raw_t = await best(
                args.rounds, lambda: gets(on_loop, work), lambda: raw_gets(pool, work)
            )
        print(line("gets_concurrent_native", total / ours_t, total / raw_t), flush=True)

        psycopg_t = await best(args.rounds, lambda: raw_gets(pool, work), lambda: None)
        asyncpg_t = await asyncpg_gets(url, size, work, args.rounds)
        while not pool.empty():
            await pool.get_nowait().close()
    system.close()
    if asyncpg_t is None:
        print("driver_gets_concurrent: skipped (pip install '.[bench]' for asyncpg)")
    else:
        print(
            f"driver_gets_concurrent: psycopg async {total / psycopg_t[0]:,.0f}/s, "
            f"asyncpg {total / asyncpg_t:,.0f}/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--gets", type=int, default=6_400, help="point gets per round")
    parser.add_argument("--bulk", type=int, default=10_000, help="records per create_many")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with scratch_database("bench_async") as url:
        asyncio.run(run(url, args))


if __name__ == "__main__":
    main()
