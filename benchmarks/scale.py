"""Reads that do not degrade with table size, and reads spread over a replica.

    python -m benchmarks.scale [--rows 400000] [--small 20000]

On PostgreSQL (``BENCH_DATABASE_URL`` or the local server), ordered by a nullable indexed
float, descending (``order_by=["-price"]``: the hard case, nulls last), as the sysadmin:

- ``deep_page``: a 50-row page at 90% depth, by keyset token vs by ``offset``.
- ``page_growth``: that keyset page on a table of --rows vs one of --small rows
  (1.0 = flat; the target is >= 0.8).
- ``replica_reads``: 8 threads reading (``get`` and a 20-row ``find``) for a while from
  a throwaway primary with a streaming replica (``repositories.pgtesting``), routed
  primary+replica vs primary only. Both servers share this machine's cores.

Rounds alternate between the two sides of each line; the best round of each counts.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from benchmarks._pg import scratch_database
from models.base import Record, indexed
from models.schema import model_info
from repositories import Context, connect
from repositories.keyset import Keyset, encode_token, fingerprint
from repositories.lookups import parse_order
from repositories.pgtesting import cluster, replica_of
from repositories.sql import SqlDatabase

ORDER = ["-price"]
PAGE = 50
READERS = 8


class ScaleItem(Record):
    mandate_id: str = ""
    title: str
    price: float | None = indexed(default=None)
    rooms: int = 0


class ScaleItemSmall(ScaleItem):
    __table_name__ = "ScaleItemSmall"


def rows(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        out.append(
            {
                "id": f"{rng.getrandbits(128):032x}",
                "mandateId": f"m{rng.randint(1, 4)}",
                "title": f"item {i}",
                "price": None if rng.random() < 0.05 else round(rng.uniform(1, 1_000_000), 2),
                "rooms": rng.randint(1, 8),
                "_createdAt": 1.7e9 + i,
                "_createdBy": "bench",
                "_modifiedAt": 1.7e9 + i,
                "_modifiedBy": "bench",
            }
        )
    return out


def load(db: SqlDatabase, model: type[ScaleItem], count: int) -> None:
    db.ensure_schema(model)
    repo = db.repository(model)
    batch = 20_000
    for start in range(0, count, batch):
        repo.import_rows(rows(min(batch, count - start), seed=start), batch_size=batch)
    with db.engine.connect() as conn:
        conn.execute(sa.text(f'ANALYZE "{model_info(model).table}"'))
        conn.commit()


def deep_token(db: SqlDatabase, model: type[ScaleItem], depth: int) -> str:
    """The token a reader paging from the start would hold at row `depth`."""
    repo = db.repository(model)
    info = model_info(model)
    orders = tuple(parse_order(info, ORDER))
    before = repo.find(order_by=ORDER, limit=1, offset=depth - 1)[0]
    bound = fingerprint(info.table, repo._where(None), orders)
    return encode_token(bound, Keyset(orders).values_of(before))


def rate(fn: Callable[[], Any], seconds: float = 1.0) -> float:
    """Calls per second of `fn` over about `seconds`."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        calls += 1
    return calls / elapsed


def alternate(rounds: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[float, float]:
    best_a = best_b = 0.0
    for _ in range(rounds):
        best_a, best_b = max(best_a, a()), max(best_b, b())
    return best_a, best_b


def pages(url: str, big: int, small: int, rounds: int) -> None:
    db = SqlDatabase(url, create_tables=True)
    print(f"loading {big:,} + {small:,} rows…", flush=True)
    load(db, ScaleItem, big)
    load(db, ScaleItemSmall, small)
    repo, little = db.repository(ScaleItem), db.repository(ScaleItemSmall)
    depth, small_depth = int(big * 0.9), int(small * 0.9)
    token, small_token = (
        deep_token(db, ScaleItem, depth),
        deep_token(db, ScaleItemSmall, small_depth),
    )
    keyset_ids = [r.id for r in repo.page(order_by=ORDER, limit=PAGE, after=token).items]
    offset_ids = [r.id for r in repo.find(order_by=ORDER, limit=PAGE, offset=depth)]
    assert keyset_ids == offset_ids, "keyset and offset disagree"

    def keyset() -> float:
        return rate(lambda: repo.page(order_by=ORDER, limit=PAGE, after=token))

    def offset() -> float:
        return rate(lambda: repo.find(order_by=ORDER, limit=PAGE, offset=depth), seconds=3.0)

    def keyset_small() -> float:
        return rate(lambda: little.page(order_by=ORDER, limit=PAGE, after=small_token))

    ours, baseline = alternate(rounds, keyset, offset)
    print(
        f"deep_page: keyset {ours:,.0f}/s, offset {baseline:,.0f}/s, "
        f"ratio {ours / baseline:.1f} (page of {PAGE} at row {depth:,} of {big:,})"
    )
    large, tiny = alternate(rounds, keyset, keyset_small)
    print(
        f"page_growth: keyset at {big // 1000}k vs {small // 1000}k ratio {large / tiny:.2f} "
        f"({large:,.0f}/s vs {tiny:,.0f}/s, each at 90% depth)"
    )
    db.close()


def replica_reads(rows_count: int, rounds: int, seconds: float) -> None:
    with cluster() as primary, replica_of(primary) as replica:
        setup = SqlDatabase(primary.url(), create_tables=True)
        load(setup, ScaleItem, rows_count)
        ids = [r.id for r in setup.repository(ScaleItem).find(limit=5000)]
        setup.close()
        _caught_up(primary.url(), replica.url())
        routed = connect(primary.url(), replicas=[replica.url()], pool_size=READERS)
        alone = connect(primary.url(), pool_size=READERS)

        def run(db: Any) -> float:
            done = [0] * READERS
            stop = time.perf_counter() + seconds

            def reader(n: int) -> None:
                ctx = Context(f"reader{n}", f"m{n % 4 + 1}", "admin")
                repo = db.with_context(ctx).repository(ScaleItem)
                rng = random.Random(n)
                while time.perf_counter() < stop:
                    repo.get(rng.choice(ids))
                    repo.find(where={"rooms": rng.randint(1, 8)}, limit=20)
                    done[n] += 2

            threads = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return sum(done) / (time.perf_counter() - start)

        both, single = alternate(rounds, lambda: run(routed), lambda: run(alone))
        print(
            f"replica_reads: primary+replica {both:,.0f}/s vs primary only {single:,.0f}/s, "
            f"ratio {both / single:.2f} ({READERS} threads, both servers on this machine)"
        )
        routed.close()
        alone.close()


def _caught_up(primary: str, replica: str) -> None:
    p, r = sa.create_engine(primary), sa.create_engine(replica)
    with p.connect() as conn:
        lsn = conn.execute(sa.text("SELECT pg_current_wal_lsn()")).scalar()
    deadline = time.monotonic() + 120
    with r.connect() as conn:
        while not conn.execute(
            sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}
        ).scalar():
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not catch up")
            time.sleep(0.1)
            conn.rollback()
    p.dispose()
    r.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replica-rows", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with scratch_database("bench_scale") as url:
        pages(url, args.rows, args.small, args.rounds)
    replica_reads(args.replica_rows, args.rounds, args.seconds)


if __name__ == "__main__":
    main()
