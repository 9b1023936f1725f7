"""Benchmark: ``connectors db copy`` of a 50,000-record JSON store into PostgreSQL.

    .venv/bin/python -m benchmarks.copy

prints ``copy: ours X rows/s, baseline Y rows/s, ratio R`` (R = ours / baseline; the
target is R >= 0.5).

- ours: `connectors.transfer.copy_tables` from ``jsonfile://<store>`` into PostgreSQL:
  read through the JSON-file repository, validate every record, write with
  `Repository.import_rows` (``COPY`` per batch, one transaction per batch).
- baseline: the same records by hand: read each ``<store>/Property/<id>.json`` with
  ``json.loads``, encode the COPY text, and one raw psycopg2 ``copy_expert`` into an
  identical table (same columns and indexes). No validation, no scoping, no batching.

Both end in the same rows in PostgreSQL, and the copy is then verified (counts and
SHA-256 checksums). Three alternating rounds of each run into truncated tables; the best
of each is reported (the machine may be shared). The database is created on ``postgresql://postgres@127.0.0.1:5432``
and dropped afterwards; with ``BENCH_DATABASE_URL`` set, that database is used instead
(two throwaway schemas in it, dropped afterwards). ``BENCH_ROWS`` changes the size.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from benchmarks._pg import scratch_database
from connectors.transfer import copy_tables, verify_tables
from models import Property
from models.tables import metadata_for
from repositories import connect

ROWS = int(os.environ.get("BENCH_ROWS", "50000"))
ROUNDS = 3
BATCH = int(os.environ.get("BENCH_BATCH", "5000"))


@contextmanager
def schema(url: str, name: str) -> Iterator[str]:
    """`url` with its own schema `name` (created with the Property table, then dropped)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={name}"})
    scoped_url = scoped.render_as_string(hide_password=False)
    try:
        yield scoped_url
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


def records(n: int) -> list[dict[str, object]]:
    rng = random.Random(7)
    cities = ["Zürich", "Bern", "Basel", "Genève", "Lausanne", "Luzern"]
    out = []
    for i in range(n):
        now = 1.7e9 + i * 0.5
        out.append(
            Property(
                title=f"Property {i}\twith tab" if i % 97 == 0 else f"Property {i}",
                mandate_id=f"m{i % 5}",
                city=rng.choice(cities),
                zip_code=str(1000 + rng.randrange(9000)),
                price=round(rng.uniform(2e5, 3e6), 2),
                rooms=rng.randrange(1, 9),
                available=rng.random() < 0.7,
                features={"balcony": rng.random() < 0.5, "floor": rng.randrange(12)},
                tags=rng.sample(["new", "garden", "lake", "view", "quiet"], 2),
                created_at=now,
                created_by=f"user{i % 11}",
                modified_at=now + 1,
                modified_by=f"user{i % 7}",
            ).model_dump(mode="json", by_alias=True)
        )
    return out


def build_store(path: Path, rows: list[dict[str, object]]) -> str:
    url = f"jsonfile://{path}"
    db = connect(url, durability="none")
    try:
        db.ensure_schema(Property)
        db.repository(Property).import_rows(rows, batch_size=5000, skip_existing=False)
    finally:
        db.close()
    return url


def _connect(url: str) -> Any:
    params = make_url(url)
    return psycopg2.connect(
        host=params.host,
        port=params.port or 5432,
        user=params.username,
        password=params.password,
        dbname=params.database,
        options=params.query.get("options"),
    )


def _truncate(url: str) -> None:
    with _connect(url) as conn, conn.cursor() as cursor:
        cursor.execute('TRUNCATE "Property"')
    conn.close()


def baseline(store: Path, url: str) -> float:
    """Raw: json.loads every record file, one psycopg2 COPY; returns seconds."""
    table = metadata_for([Property]).tables["Property"]
    columns = [c.name for c in table.columns]
    json_columns = {"features", "tags"}
    bools = {"available"}
    conn = _connect(url)
    escapes = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
    started = time.perf_counter()
    lines = []
    for file in (store / "Property").glob("*.json"):
        if file.name.startswith("_"):
            continue
        row = json.loads(file.read_bytes())
        fields = []
        for name in columns:
            value = row.get(name)
            if value is None:
                fields.append("\\N")
            elif name in json_columns:
                fields.append(json.dumps(value, separators=(",", ":")).translate(escapes))
            elif name in bools:
                fields.append("t" if value else "f")
            elif isinstance(value, str):
                fields.append(value.translate(escapes))
            else:
                fields.append(repr(value))
        lines.append("\t".join(fields))
    quoted = ", ".join(f'"{c}"' for c in columns)
    with conn, conn.cursor() as cursor:
        cursor.copy_expert(
            f'COPY "Property" ({quoted}) FROM STDIN', io.StringIO("\n".join(lines) + "\n")
        )
    elapsed = time.perf_counter() - started
    with conn.cursor() as cursor:
        cursor.execute('SELECT count(*) FROM "Property"')
        (count,) = cursor.fetchone()
    conn.close()
    if count != ROWS:
        raise SystemExit(f"baseline copied {count} rows, expected {ROWS}")
    return elapsed


def ours(source_url: str, target_url: str, verify: bool) -> float:
    """`copy_tables` through the repositories (verified if asked); returns seconds."""
    source, target = connect(source_url), connect(target_url, create_tables=False)
    try:
        started = time.perf_counter()
        results = copy_tables(source, target, [Property], batch_size=BATCH, create_schema=False)
        elapsed = time.perf_counter() - started
        if results[0].written != ROWS:
            raise SystemExit(f"ours copied {results[0].written} rows, expected {ROWS}")
        if verify:
            (checked,) = verify_tables(source, target, [Property], results)
            print(
                f"verify: {checked.table} {checked.target_count} rows, "
                f"sha256 {checked.target_checksum[:16]} equal on both sides"
            )
    finally:
        source.close()
        target.close()
    return elapsed


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="connectors-bench-copy-"))
    ours_s, base_s = [], []
    try:
        store = work / "realestate"
        started = time.perf_counter()
        source_url = build_store(store, records(ROWS))
        print(f"store: {ROWS} records in {store} ({time.perf_counter() - started:.1f}s to build)")
        with scratch_database("connectors_bench") as url:
            tag = uuid.uuid4().hex[:8]
            with (
                schema(url, f"bench_ours_{tag}") as ours_url,
                schema(url, f"bench_base_{tag}") as base_url,
            ):
                for target in (ours_url, base_url):  # identical tables and indexes
                    connect(target, create_tables=False).ensure_schema(Property)
                for attempt in range(ROUNDS):  # alternate, keep the best of each
                    if attempt:
                        _truncate(ours_url)
                        _truncate(base_url)
                    ours_s.append(ours(source_url, ours_url, verify=attempt == ROUNDS - 1))
                    base_s.append(baseline(store, base_url))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"rounds: ours {', '.join(f'{t:.2f}s' for t in ours_s)}; "
        f"baseline {', '.join(f'{t:.2f}s' for t in base_s)} (best of {ROUNDS} used)"
    )
    ours_rate, base_rate = ROWS / min(ours_s), ROWS / min(base_s)
    print(
        f"copy: ours {ours_rate:,.0f} rows/s, baseline {base_rate:,.0f} rows/s, "
        f"ratio {ours_rate / base_rate:.2f}"
    )


if __name__ == "__main__":
    main()
