"""JSON-file repository vs its baselines, measured in the same run.

    python -m benchmarks.jsonfile_repository [--rows 50000] [--dir /path/on/target/disk]

Prints one line per figure as ``name: ours X/s, baseline Y/s, ratio R`` (R = ours /
baseline throughput):

- ``create:`` per-record ``create`` with full durability vs the raw limit (temp file,
  fsync, ``os.replace``, directory fsync in a plain loop, same bytes);
- ``create_many:`` 5,000 records in one call vs our own per-record ``create`` (rounds
  alternating the two, so both see the same disk);
- ``find_indexed:`` an equality filter on an indexed field (``ownerId``, ~50 matches)
  over `--rows` records vs TinyDB's ``search`` on the same documents (in memory, its
  fastest storage), both warm and interleaved;
- ``get:`` by id (warm cache) vs a raw ``open`` + ``json.load`` of the record file;
- ``cold_open:`` a fresh process view's first indexed query on the `--rows` table vs
  opening the same data with TinyDB (JSON file) and searching once; the times in ms.

Access-scoped reads and growth, on two tenant-scoped tables of 10,000 and 200,000 records
(`--growth-rows`; bulk-loaded with ``durability="none"``, then ``sync``; the mandate read
holds 80% of the records, each owner 200 of them, so a query's matches are the same in
both), warm, measured in alternating rounds (medians of the rounds; growth ratios are
the median of the per-round ratios):

- ``get_tenant:`` ``get`` as a user of the mandate at 50,000 records vs a raw
  ``open`` + read of the record file validated into the model;
- ``get_growth:`` that tenant ``get`` at 200k vs at 10k records (ratio: 200k / 10k);
- ``find_limit_growth:`` ``find(owner_id=..., limit=50)`` as that user, likewise;
- ``create_many_growth:`` ``create_many`` of 1,000 records at 200k vs at 10k records;
  for context, the rate at which the raw file system creates files (temp file, rename)
  in the same directories: where the file system's own file creation slows as a
  directory fills (seen on ext4), both slow alike.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field
from tinydb import Query, TinyDB
from tinydb.storages import JSONStorage, MemoryStorage

from models.base import Record, indexed
from repositories.context import Context
from repositories.jsonfile import JsonDatabase

OWNERS = 1000
#: The growth table: records per owner (constant, so a query's matches do not grow),
#: the mandate read and its share of the records.
PER_OWNER = 200
MANDATE = "m-1"


class BenchItem(Record):
    """~10 fields, a small JSON document; ``owner_id`` and ``category`` are indexed."""

    name: str
    category: str = indexed()
    owner_id: str
    amount: float
    quantity: int
    active: bool = True
    note: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class TenantItem(Record):
    """A tenant-scoped record (``mandate_id``); ``owner_id`` is indexed."""

    name: str
    owner_id: str
    mandate_id: str = ""
    amount: float
    quantity: int
    note: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


def make_tenant_items(start: int, count: int) -> list[TenantItem]:
    """Records `start`.. of the growth table: 80% in `MANDATE`, `PER_OWNER` per owner."""
    rng = random.Random(start)
    return [
        TenantItem(
            name=f"item {i}",
            owner_id=f"owner-{i // PER_OWNER}",
            mandate_id=MANDATE if rng.random() < 0.8 else f"m-{rng.randrange(2, 5)}",
            amount=rng.random() * 1000,
            quantity=rng.randint(0, 500),
            note=None if i % 3 else f"note {i}",
            payload={"sku": f"SKU-{i:08d}", "dims": {"w": rng.randint(1, 99)}},
        )
        for i in range(start, start + count)
    ]


def make_items(count: int, seed: int = 7) -> list[BenchItem]:
    rng = random.Random(seed)
    return [
        BenchItem(
            name=f"item {i}",
            category=rng.choice(["tools", "garden", "kitchen", "office"]),
            owner_id=f"user-{rng.randrange(OWNERS)}",
            amount=rng.random() * 1000,
            quantity=rng.randint(0, 500),
            note=None if i % 3 else f"note {i}",
            payload={"sku": f"SKU-{i:08d}", "dims": {"w": rng.randint(1, 99)}},
        )
        for i in range(count)
    ]


def line(name: str, ours: float, baseline: float, extra: str = "") -> str:
    text = f"{name}: ours {ours:,.1f}/s, baseline {baseline:,.1f}/s, ratio {ours / baseline:.2f}"
    return f"{text} {extra}".rstrip()


def rate(count: int, fn: Callable[[], Any]) -> float:
    # A full collection over the ~10^6 objects both stores hold can land inside a timed
    # loop of microsecond calls and dominate it; start every measurement from a clean slate.
    gc.collect()
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


class RawCreator:
    """The raw limit of a durable create: what `create` must do at the very least."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.dir_fd = os.open(directory, os.O_RDONLY)
        self.count = 0

    def create(self, data: bytes) -> None:
        self.count += 1
        temp = self.directory / f".{self.count}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.replace(temp, self.directory / f"{self.count}.json")
        os.fsync(self.dir_fd)

    def close(self) -> None:
        os.close(self.dir_fd)


def bench_create(work: Path, count: int) -> tuple[float, float]:
    """Ours and raw interleaved one record at a time (same disk, same moment, same bytes).

    The disk's fsync latency drifts a lot from second to second on shared machines;
    alternating single operations exposes both sides to the same drift.
    """
    items = make_items(count, seed=100)
    payloads = [json.dumps(i.model_dump(mode="json")).encode() for i in items]
    db = JsonDatabase(f"jsonfile://{work / 'create'}", durability="full")
    repo = db.repository(BenchItem)
    repo.count()  # open the (empty) table outside the measurement
    raw = RawCreator(work / "raw")
    ours_time = raw_time = 0.0
    clock = time.perf_counter
    for item, data in zip(items, payloads, strict=True):
        start = clock()
        repo.create(item)
        middle = clock()
        raw.create(data)
        end = clock()
        ours_time += middle - start
        raw_time += end - middle
    raw.close()
    db.close()
    return count / ours_time, count / raw_time


def bench_create_many(work: Path, count: int, rounds: int = 3) -> tuple[float, float]:
    """`create_many` of `count` records vs per-record `create`, alternated in rounds."""
    db = JsonDatabase(f"jsonfile://{work / 'many'}", durability="full")
    repo = db.repository(BenchItem)
    repo.count()
    many_time = single_time = 0.0
    singles = 200
    for r in range(rounds):
        batch = make_items(count, seed=1000 + r)
        one_by_one = make_items(singles, seed=2000 + r)
        gc.collect()
        start = time.perf_counter()
        repo.create_many(batch, batch_size=count)
        middle = time.perf_counter()
        for item in one_by_one:
            repo.create(item)
        single_time += time.perf_counter() - middle
        many_time += middle - start
    db.close()
    return rounds * count / many_time, rounds * singles / single_time


class Growth:
    """A tenant-scoped table grown in place, and what is measured on it."""

    def __init__(self, directory: Path) -> None:
        url = f"jsonfile://{directory}"
        self.loader = JsonDatabase(url, durability="none")
        self.writer = self.loader.repository(TenantItem)
        user = Context(user_id="bench-user", mandate_id=MANDATE, privilege="user")
        # another view of the store (as another process would have), a user of MANDATE
        self.user = JsonDatabase(url).with_context(user).repository(TenantItem)
        self.table_dir = directory / "TenantItem"
        self.size = 0
        self.full_owners = 0  # owners 0.. hold PER_OWNER records each
        self.mine: list[str] = []  # ids of MANDATE's records
        self.rng = random.Random(17)
        self.get_ids: list[str] = []
        self.owners: list[str] = []

    def grow_to(self, size: int, batch: int = 10_000) -> None:
        while self.size < size:
            self.create_many(min(batch, size - self.size))
        self.full_owners = self.size // PER_OWNER

    def create_many(self, count: int) -> float:
        """Add `count` records in one `create_many`; the seconds it took."""
        items = make_tenant_items(self.size, count)
        gc.collect()
        start = time.perf_counter()
        created = self.writer.create_many(items, batch_size=count)
        elapsed = time.perf_counter() - start
        self.mine += [i.id for i in created if i.mandate_id == MANDATE]
        self.size += count
        return elapsed

    def raw_create(self, count: int) -> float:
        """The file system's own: temp file + rename in the table directory (removed after)."""
        data = b"x" * 400
        names = [str(self.table_dir / f".raw-{k}") for k in range(count)]
        gc.collect()
        start = time.perf_counter()
        for name in names:
            fd = os.open(f"{name}.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.close(fd)
            os.replace(f"{name}.tmp", f"{name}.done")
        elapsed = time.perf_counter() - start
        for name in names:
            os.unlink(f"{name}.done")
        return elapsed

    def prepare_reads(self, gets: int = 2000, finds: int = 300) -> None:
        """Pick the ids and owners to read, and read them once (every side warm)."""
        self.get_ids = self.rng.sample(self.mine, min(gets, len(self.mine)))
        self.owners = [f"owner-{self.rng.randrange(self.full_owners)}" for _ in range(finds)]
        for record_id in self.get_ids:
            assert self.user.get(record_id) is not None
        for owner in self.owners:
            assert len(self.user.find({"owner_id": owner}, limit=50)) == 50

    def gets(self) -> float:
        get, ids = self.user.get, self.get_ids
        gc.collect()
        start = time.perf_counter()
        for record_id in ids:
            get(record_id)
        return time.perf_counter() - start

    def finds(self) -> float:
        find, owners = self.user.find, self.owners
        gc.collect()
        start = time.perf_counter()
        for owner in owners:
            find({"owner_id": owner}, limit=50)
        return time.perf_counter() - start

    def raw_gets(self) -> float:
        validate, table_dir = TenantItem.model_validate_json, self.table_dir
        gc.collect()
        start = time.perf_counter()
        for record_id in self.get_ids:
            with open(table_dir / f"{record_id}.json", "rb") as handle:
                validate(handle.read())
        return time.perf_counter() - start

    def close(self) -> None:
        self.loader.close()
        self.user.database.close()


def paired(
    rounds: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[float, float, float]:
    """Time `first` and `second` back to back, `rounds` times (which goes first
    alternates): the median seconds of each, and the median of the per-round ratios
    (seconds of `first` / seconds of `second`: how much faster `second` ran).

    A burst of load on a shared machine hits one round, not the answer."""
    firsts: list[float] = []
    seconds: list[float] = []
    for round_no in range(rounds):
        if round_no % 2:
            seconds.append(second())
            firsts.append(first())
        else:
            firsts.append(first())
            seconds.append(second())
    ratios = [a / b for a, b in zip(firsts, seconds, strict=True)]
    return statistics.median(firsts), statistics.median(seconds), statistics.median(ratios)


def bench_growth(work: Path, small_rows: int, big_rows: int, rounds: int = 7) -> None:
    """Two tables, `small_rows` and `big_rows` records, measured in alternating rounds
    (both sides see the same machine); `get_tenant` on the big one as it passes 50,000."""
    small, big = Growth(work / "small"), Growth(work / "big")
    small.grow_to(small_rows)
    big.grow_to(min(50_000, big_rows))
    big.prepare_reads()
    big.raw_gets()  # the page cache warm for the baseline too
    ours, raw, _ = paired(rounds, big.gets, big.raw_gets)
    count = len(big.get_ids)
    print(
        line(
            "get_tenant",
            count / ours,
            count / raw,
            f"(a user of one mandate, {big.size:,} records; baseline: open + read + "
            "model_validate_json)",
        ),
        flush=True,
    )
    big.grow_to(big_rows)
    os.sync()  # the bulk load's writeback would otherwise run during the measurements
    small.prepare_reads()
    big.prepare_reads()
    sizes = f"{big_rows // 1000}k vs {small_rows // 1000}k records"

    def growth(name: str, what: str, count: int, measured: tuple[float, float, float]) -> str:
        at_small, at_big, ratio = count / measured[0], count / measured[1], measured[2]
        return (
            f"{name}: {what} at {sizes}, ratio {ratio:.2f} "
            f"({big_rows // 1000}k: {at_big:,.1f}/s, {small_rows // 1000}k: {at_small:,.1f}/s"
        )

    gets = paired(rounds, small.gets, big.gets)
    print(growth("get_growth", "tenant get", len(big.get_ids), gets) + ")", flush=True)
    finds = paired(rounds, small.finds, big.finds)
    what = "tenant find(owner_id=..., limit=50)"
    print(growth("find_limit_growth", what, len(big.owners), finds) + ")", flush=True)
    # ours and the raw file system in the same rounds, in rotating order: the disk's
    # speed drifts a lot from second to second on a shared machine
    batch, steps = (
        1000,
        [
            lambda: small.create_many(1000),
            lambda: big.create_many(1000),
            lambda: small.raw_create(1000),
            lambda: big.raw_create(1000),
        ],
    )
    timed: list[list[float]] = [[], [], [], []]
    for round_no in range(9):
        for k in range(4):
            step = (k + round_no) % 4
            timed[step].append(steps[step]())
    ours_small, ours_big, raw_small, raw_big = (statistics.median(t) for t in timed)
    ours_ratio = statistics.median(a / b for a, b in zip(timed[0], timed[1], strict=True))
    raw_ratio = statistics.median(a / b for a, b in zip(timed[2], timed[3], strict=True))
    print(
        growth(
            "create_many_growth",
            f"create_many of {batch:,}",
            batch,
            (ours_small, ours_big, ours_ratio),
        )
        + f"; the file system's own file creation in the same directories: "
        f"{batch / raw_big:,.1f}/s vs {batch / raw_small:,.1f}/s, ratio {raw_ratio:.2f})",
        flush=True,
    )
    small.close()
    big.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--growth-rows", type=int, default=200_000)
    parser.add_argument("--only-growth", action="store_true", help="skip the other figures")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: tmp)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-jsonfile-", dir=args.dir))
    try:
        if not args.only_growth:
            run(work, args.rows)
        if args.growth_rows:  # 0: skip the growth figures
            bench_growth(work, 10_000, args.growth_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, rows: int) -> None:
    ours_create, raw_create = bench_create(work, 1000)
    print(line("create", ours_create, raw_create), flush=True)

    many, single = bench_create_many(work, 5000)
    print(line("create_many", many, single), flush=True)

    # The big table: bulk-loaded without fsync (durability="none" is for bulk loads).
    items = make_items(rows, seed=11)
    url = f"jsonfile://{work / 'big'}"
    loader = JsonDatabase(url, durability="none")
    loader.repository(BenchItem).create_many(items, batch_size=5000)
    loader.close()
    docs = [i.model_dump(mode="json") for i in items]
    tiny_path = work / "tiny.json"
    with TinyDB(tiny_path, storage=JSONStorage) as tiny_file:
        tiny_file.insert_multiple(docs)

    rng = random.Random(5)
    cold_owner = f"user-{rng.randrange(OWNERS)}"
    start = time.perf_counter()
    db = JsonDatabase(url)
    repo = db.repository(BenchItem)
    first = repo.find({"owner_id": cold_owner})
    ours_cold = time.perf_counter() - start
    start = time.perf_counter()
    with TinyDB(tiny_path, storage=JSONStorage) as tiny_cold:
        baseline_first = tiny_cold.search(Query().ownerId == cold_owner)
    tiny_cold_time = time.perf_counter() - start
    assert len(first) == len(baseline_first), (len(first), len(baseline_first))

    # Both sides warm: TinyDB holds every document in memory, so do we after one scan.
    repo.count({"quantity__gte": 0})
    tiny = TinyDB(storage=MemoryStorage)
    tiny.insert_multiple(docs)
    # Interleaved: one TinyDB search, then 20 of ours, ten times over, so that both see
    # the same machine (the load of a shared host drifts within seconds).
    ours_time = tiny_time = 0.0
    ours_count = tiny_count = 0
    gc.collect()
    for _ in range(10):
        owner = f"user-{rng.randrange(OWNERS)}"
        start = time.perf_counter()
        tiny.clear_cache()
        expected = len(tiny.search(Query().ownerId == owner))
        middle = time.perf_counter()
        got = len(repo.find({"owner_id": owner}))
        for _ in range(19):
            repo.find({"owner_id": f"user-{rng.randrange(OWNERS)}"})
        tiny_time += middle - start
        ours_time += time.perf_counter() - middle
        tiny_count += 1
        ours_count += 20
        assert got == expected, "the two stores disagree"
    print(
        line(
            "find_indexed",
            ours_count / ours_time,
            tiny_count / tiny_time,
            f"(~{rows // OWNERS} of {rows:,} records per query)",
        ),
        flush=True,
    )

    ids = [i.id for i in rng.sample(items, 2000)]
    for record_id in ids:  # warm: served from the cache
        repo.get(record_id)
    ours_get = rate(len(ids), lambda: [repo.get(i) for i in ids])
    table_dir = work / "big" / "BenchItem"

    def raw_get() -> None:
        for record_id in ids:
            with open(table_dir / f"{record_id}.json", "rb") as handle:
                json.load(handle)

    raw_get_rate = rate(len(ids), raw_get)
    print(line("get", ours_get, raw_get_rate), flush=True)
    print(
        line(
            "cold_open",
            1 / ours_cold,
            1 / tiny_cold_time,
            f"(first indexed query on {rows:,} records: ours {ours_cold * 1000:.0f} ms, "
            f"TinyDB open+search {tiny_cold_time * 1000:.0f} ms)",
        ),
        flush=True,
    )
    db.close()


if __name__ == "__main__":
    main()
