"""SQL repository on SQLite vs the raw ``sqlite3`` module, in one run.

    python -m benchmarks.sqlite_repository [--rows 20000]

Prints ``name: ours X/s, baseline Y/s, ratio R`` (R = ours / baseline throughput),
rounds alternating ours and the baseline:

- ``read_all:`` ``find()`` of every row (validated models) vs ``sqlite3`` ``fetchall``
  plus the same validation (``json.loads`` of the JSON columns, ``model_validate``);
- ``insert:`` ``create_many`` vs ``sqlite3`` ``executemany`` of the dumped rows in one
  transaction (no validation beyond pydantic's dump).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._pg import line
from benchmarks.sql_repository import BenchItem, compare, make_items
from repositories import connect
from repositories.sql import SqlDatabase

JSON_COLUMNS = ("payload", "labels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_sqlite_") as tmp:
        run(Path(tmp), args.rows)


def run(tmp: Path, count: int) -> None:
    db = connect(f"sqlite:///{tmp / 'ours.db'}")
    assert isinstance(db, SqlDatabase)
    db.ensure_schema(BenchItem)
    repo = db.repository(BenchItem)
    columns = [c.name for c in repo.table.columns]
    raw = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    # the same table and indexes under another name, so both pay the same index upkeep
    schema = sqlite3.connect(tmp / "ours.db").execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'BenchItem' AND sql IS NOT NULL "
        "ORDER BY type = 'index'"
    )
    for (ddl,) in schema.fetchall():
        raw.execute(ddl.replace('"BenchItem"', "raw_items").replace("ix_BenchItem", "ix_raw"))
    items = make_items(count)
    quoted = ", ".join(f'"{c}"' for c in columns)
    insert_sql = f"INSERT INTO raw_items ({quoted}) VALUES ({', '.join('?' * len(columns))})"

    # --- insert ----------------------------------------------------------------------
    def ours_insert() -> None:
        with db.engine.begin() as conn:
            conn.exec_driver_sql('DELETE FROM "BenchItem"')
        start = time.perf_counter()
        repo.create_many(items, batch_size=5000)
        ours_times.append(time.perf_counter() - start)

    def raw_insert() -> None:
        raw.execute("DELETE FROM raw_items")
        start = time.perf_counter()
        now = time.time()
        rows = []
        for item in items:
            data = item.model_dump(by_alias=True)
            data.update(_createdAt=now, _modifiedAt=now, _createdBy="u", _modifiedBy="u")
            rows.append(
                tuple(json.dumps(data[c]) if c in JSON_COLUMNS else data[c] for c in columns)
            )
        raw.execute("BEGIN")
        raw.executemany(insert_sql, rows)
        raw.execute("COMMIT")
        raw_times.append(time.perf_counter() - start)

    ours_times: list[float] = []
    raw_times: list[float] = []
    for _ in range(3):
        ours_insert()
        raw_insert()
    print(line("insert", count / min(ours_times), count / min(raw_times)), flush=True)

    # --- read_all --------------------------------------------------------------------
    json_at = [columns.index(c) for c in JSON_COLUMNS]
    validate = BenchItem.model_validate

    def raw_read() -> list[BenchItem]:
        models = []
        for row in raw.execute("SELECT * FROM raw_items").fetchall():
            values: list[Any] = list(row)
            for index in json_at:
                values[index] = json.loads(values[index])
            models.append(validate(dict(zip(columns, values, strict=True))))
        return models

    assert len(repo.find()) == len(raw_read()) == count
    ours_t, raw_t = compare(5, lambda: repo.find(), raw_read)
    print(line("read_all", count / ours_t, count / raw_t), flush=True)
    raw.close()
    db.close()


if __name__ == "__main__":
    main()
