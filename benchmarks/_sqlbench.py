"""The sections of `benchmarks.sql_repository` beyond the first four (issue 11).

Each prints ``name: ours X/s, baseline Y/s, ratio R`` with rounds alternating ours and the
baseline (`compare`), except ``find_memory``, which reports peak memory.
"""

from __future__ import annotations

import gc
import itertools
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import psycopg2
from psycopg.types.json import Jsonb

from benchmarks._pg import line
from repositories import connect
from repositories.sql import SqlRepository

#: Updates per timed round of the `update` section.
UPDATE_ROUND = 500
#: Timed rounds of the `update` section, each side.
UPDATE_ROUNDS = 24
Compare = Callable[[int, Callable[[], Any], Callable[[], Any]], tuple[float, float]]
ORDER = "ORDER BY amount DESC NULLS LAST, id"


def update(repo: SqlRepository[Any], cur: Any, ids: Sequence[str]) -> None:
    """``update(id, {"quantity": n})`` vs the same UPDATE … RETURNING on psycopg2.

    Every update waits for its commit's flush, whose time drifts with the disk (within
    one run, 500 to 1,200 µs an update, on both sides alike) and spikes where a GIN
    pending list is flushed or a checkpoint writes. So: short rounds (`UPDATE_ROUND`
    updates, the same ids on both sides), `UPDATE_ROUNDS` of them each side, alternating
    which side goes first, and each side's median round, where five long rounds and the
    best of each gave 0.82 to 1.02 on the same code. Both tables start vacuumed and are
    not vacuumed meanwhile: where autovacuum's run fell (on one table, during one
    side's round) decided the figure too.
    """
    for table in ('"BenchItem"', "raw_items"):
        cur.execute(f"VACUUM ANALYZE {table}")
        cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    counter = iter(range(10**9))
    size = min(UPDATE_ROUND, len(ids))  # every round the same length
    rounds = itertools.cycle([ids[i : i + size] for i in range(0, len(ids) - size + 1, size)])
    batch: list[str] = []

    def ours() -> None:
        for rid in batch:
            repo.update(rid, {"quantity": next(counter) % 500})

    def raw() -> None:
        for rid in batch:
            cur.execute(
                'UPDATE raw_items SET quantity = %s, "_modifiedAt" = %s, "_modifiedBy" = %s '
                "WHERE id = %s RETURNING *",
                (next(counter) % 500, time.time(), "u", rid),
            )
            cur.fetchone()

    times: dict[Callable[[], None], list[float]] = {ours: [], raw: []}
    for index in range(UPDATE_ROUNDS):
        batch[:] = next(rounds)
        for side in (ours, raw) if index % 2 == 0 else (raw, ours):
            gc.collect()
            start = time.perf_counter()
            side()
            times[side].append(time.perf_counter() - start)
    ours_t, raw_t = statistics.median(times[ours]), statistics.median(times[raw])
    print(line("update", size / ours_t, size / raw_t), flush=True)
    for table in ('"BenchItem"', "raw_items"):
        cur.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


def find_ordered(repo: SqlRepository[Any], cur: Any, url: str, compare: Compare) -> None:
    """A filtered, ordered page of 50 vs the raw query, and vs advanced-alchemy."""
    owners = [f"user-{i}" for i in range(1, 51)]
    repeats = 200

    def ours() -> None:
        for i in range(repeats):
            repo.find({"owner_id": owners[i % 50]}, order_by=["-amount"], limit=50)

    def raw() -> None:
        for i in range(repeats):
            cur.execute(
                f'SELECT * FROM "BenchItem" WHERE "ownerId" = %s {ORDER} LIMIT 50',
                (owners[i % 50],),
            )
            cur.fetchall()

    ours_t, raw_t = compare(5, ours, raw)
    print(line("find_ordered", repeats / ours_t, repeats / raw_t), flush=True)
    alchemy = _alchemy_page(repo, url)
    if alchemy is None:
        print("find_ordered_vs_advanced_alchemy: skipped (pip install '.[bench]')")
        return
    ours_t, peer_t = compare(5, ours, lambda: [alchemy(owners[i % 50]) for i in range(repeats)])
    print(line("find_ordered_vs_advanced_alchemy", repeats / ours_t, repeats / peer_t))


def _alchemy_page(repo: SqlRepository[Any], url: str) -> Callable[[str], Any] | None:
    """advanced-alchemy's repository on the same table: a page by owner, amount desc."""
    try:
        from advanced_alchemy.filters import LimitOffset, OrderBy
        from advanced_alchemy.repository import SQLAlchemySyncRepository
    except ImportError:
        return None
    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase, Session

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __table__ = repo.table

    class Items(SQLAlchemySyncRepository[Item]):  # type: ignore[type-var]
        model_type = Item

    session = Session(create_engine(url))
    items = Items(session=session)
    amount, ident = OrderBy(field_name="amount", sort_order="desc"), OrderBy("id", "asc")

    def page(owner: str) -> Any:
        found = items.list(LimitOffset(limit=50, offset=0), amount, ident, ownerId=owner)
        session.expunge_all()
        return found

    return page


def find_offset(repo: SqlRepository[Any], cur: Any, count: int, compare: Compare) -> None:
    """A page of 50 at 90% depth, in id order, vs raw ``OFFSET``."""
    offset, repeats = int(count * 0.9), 20

    def ours() -> None:
        for _ in range(repeats):
            repo.find(limit=50, offset=offset)

    def raw() -> None:
        for _ in range(repeats):
            cur.execute('SELECT * FROM "BenchItem" ORDER BY id LIMIT 50 OFFSET %s', (offset,))
            cur.fetchall()

    ours_t, raw_t = compare(5, ours, raw)
    print(line("find_offset", repeats / ours_t, repeats / raw_t) + f"  (offset {offset:,})")


def find_memory(url: str, dsn: str, model: type[Any], count: int) -> None:
    """Peak memory over the baseline of ``find()`` of every row vs a raw ``fetchall``,
    each in a forked process of its own (the peak high-water mark reset first)."""

    def ours() -> Any:
        repo = connect(url).repository(model)
        repo.get("warm-up")
        return lambda: repo.find()

    def raw() -> Any:
        conn = psycopg2.connect(dsn)
        cursor = conn.cursor()

        def run() -> Any:
            cursor.execute('SELECT * FROM "BenchItem"')
            return cursor.fetchall()

        return run

    ours_mb, raw_mb = _peak_mb(ours), _peak_mb(raw)
    print(
        f"find_memory: peak over baseline ours {ours_mb:,.0f} MB, raw fetchall "
        f"{raw_mb:,.0f} MB, ratio {raw_mb / ours_mb:.2f}  ({count:,} rows)",
        flush=True,
    )


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for entry in status:
            if entry.startswith(field):
                return int(entry.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _peak_mb(prepare: Callable[[], Callable[[], Any]]) -> float:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report, leave without cleanup
        try:
            run = prepare()
            gc.collect()
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # resets the peak RSS (VmHWM) to the current RSS
            before = _rss_kb("VmRSS")
            kept = run()
            os.write(write, str(_rss_kb("VmHWM") - before).encode())
            del kept
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = pipe.read()
    os.waitpid(pid, 0)
    return int(reported) / 1024


def create_many_copy3(
    repo3: SqlRepository[Any], dsn: str, items: Sequence[Any], columns: Sequence[str]
) -> None:
    """``create_many`` on the psycopg 3 driver vs psycopg 3's binary COPY (``write_row``,
    model_dump included), rounds alternating."""
    conn = psycopg.connect(dsn, autocommit=True)
    types = [
        conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'raw_items'::regclass AND attname = %s",
            (name,),
        ).fetchone()[0]  # type: ignore[index]
        for name in columns
    ]
    quoted = ", ".join(f'"{c}"' for c in columns)
    json_columns = {"payload", "labels"}

    def ours() -> float:
        conn.execute('TRUNCATE "BenchItem"')
        start = time.perf_counter()
        repo3.create_many(items, batch_size=5000)
        return time.perf_counter() - start

    def raw() -> float:
        conn.execute("TRUNCATE raw_items")
        start = time.perf_counter()
        now = time.time()
        with conn.transaction(), conn.cursor() as cursor:
            sql = f"COPY raw_items ({quoted}) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(sql) as copy:  # type: ignore[arg-type]
                copy.set_types(types)
                for item in items:
                    data = item.model_dump(by_alias=True)
                    data.update(_createdAt=now, _modifiedAt=now, _createdBy="u", _modifiedBy="u")
                    copy.write_row(
                        [Jsonb(data[c]) if c in json_columns else data[c] for c in columns]
                    )
        return time.perf_counter() - start

    ours_times, raw_times = [], []
    for _ in range(3):
        ours_times.append(ours())
        raw_times.append(raw())
    conn.close()
    count = len(items)
    print(line("create_many_copy3", count / min(ours_times), count / min(raw_times)), flush=True)


def shuffled(ids: Sequence[str], count: int) -> list[str]:
    return random.Random(3).sample(list(ids), min(count, len(ids)))
