"""Copy every table of one backend into another, then verify counts and checksums.

Records stream from the source in id order and are written with the system-only
`Repository.import_rows`, which keeps ids and audit fields and uses the backend's bulk
path (``COPY`` on PostgreSQL). Each batch is one transaction, and ids already in the
destination are skipped, so an interrupted copy is resumed by running it again.
Reading runs one batch ahead in a thread, overlapping the destination's writes, and the
cyclic garbage collector is paused meanwhile: a copy allocates millions of short-lived,
acyclic dicts, and the collector's passes over the growing heap cost a third of the time.
Verification compares, per table, the count and a SHA-256 over the canonical JSON of
every record in id order::

    CopyError            a table is missing in the source, or the copy does not verify
    ├── CopyRefused      source and destination are the same database
    └── SourceMissing    the source does not exist (a mistyped path is never created)
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import Record
from models.errors import ConnectorsError, ExitCode
from models.schema import model_info
from repositories import Database, SchemaError, connect
from repositories.urls import redact_url

__all__ = [
    "CopyError",
    "CopyRefused",
    "SourceMissing",
    "TableCopy",
    "checksum",
    "copy_tables",
    "open_source",
    "refuse_same_database",
    "verify_tables",
]

Progress = Callable[[str, int, int], None]
WhereFor = Callable[[type[Record]], Mapping[str, Any] | None]


class CopyError(ConnectorsError):
    """The copy cannot start, or the destination does not match the source."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, message: str, results: Sequence[TableCopy] = ()) -> None:
        super().__init__(message)
        self.results = list(results)


class CopyRefused(CopyError):
    """Source and destination are the same database: a copy would verify trivially."""

    exit_code = ExitCode.USAGE


class SourceMissing(CopyError):
    """The source database does not exist."""

    exit_code = ExitCode.NOT_FOUND


def open_source(url: str) -> Database:
    """Open `url` for reading only, refusing a source that does not exist.

    Opening a JSON store or SQLite file creates it; a source is never created (a mistyped
    path would be "copied" as empty). SQL tables are never created in the source either.

    Raises:
        SourceMissing: no store directory, no SQLite file.
    """
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme == "jsonfile":
        from repositories.jsonfile import store_path

        path = store_path(url)
        if not path.is_dir():
            raise SourceMissing(f"source {url}: no JSON store at {path}")
        return connect(url)
    if scheme == "sqlite":
        database = make_url(url).database
        if database not in (None, "", ":memory:") and not Path(database).is_file():
            raise SourceMissing(f"source {url}: no SQLite file at {database}")
    return connect(url, create_tables=False)


def _identity(db: Database) -> tuple[Any, ...]:
    """What names the storage behind `db`, whatever URL spelled it."""
    from repositories.jsonfile import JsonDatabase
    from repositories.sql import SqlDatabase

    if isinstance(db, JsonDatabase):
        return ("jsonfile", db.path.resolve())
    if isinstance(db, SqlDatabase) and db.dialect == "sqlite":
        database = db.engine.url.database or ":memory:"
        return ("sqlite", str(Path(database).resolve()) if database != ":memory:" else id(db))
    if isinstance(db, SqlDatabase):
        # the server instance (its start instant), the database and the schema in use
        query = text(
            "SELECT pg_postmaster_start_time(), inet_server_port(), current_database(), "
            "current_schema()"
        )
        with db.engine.connect() as conn:
            return ("postgresql", *conn.execute(query).one())
    return (type(db).__name__, db.url)


def refuse_same_database(source: Database, target: Database) -> None:
    """Raise `CopyRefused` when both are the same storage (under any spelling of the URL)."""
    if _identity(source) == _identity(target):
        raise CopyRefused(
            f"source and destination are the same database ({redact_url(source.url)}): "
            "nothing to copy"
        )


@dataclass
class TableCopy:
    """What happened to one table."""

    table: str
    source_count: int
    written: int = 0
    target_count: int = -1
    source_checksum: str = ""
    target_checksum: str = ""

    @property
    def verified(self) -> bool:
        return (
            self.source_count == self.target_count
            and self.source_checksum == self.target_checksum
            and bool(self.source_checksum)
        )


def canonical(record: Record) -> str:
    """A record as canonical JSON: storage names, sorted keys, no spaces."""
    return json.dumps(
        record.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def _rows(db: Database, model: type[Record], where: Mapping[str, Any] | None) -> Iterator[Record]:
    repo = db.repository(model)
    return repo.iter(where=where, batch_size=2000, order_by=["id"])


def checksum(
    db: Database, model: type[Record], where: Mapping[str, Any] | None = None
) -> tuple[int, str]:
    """The count and SHA-256 (hex) of a table's records, in id order."""
    digest = hashlib.sha256()
    count = 0
    for record in _rows(db, model, where):
        digest.update(canonical(record).encode("utf-8"))
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_DONE = object()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (process-wide) for a bulk operation."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _prefetched(batches: Iterator[list[Record]], depth: int = 2) -> Iterator[list[Record]]:
    """`batches`, read one or two ahead in a thread while the caller writes.

    Reading the source (file I/O, parsing) then overlaps the destination's work (the
    server ingesting a COPY). An error in the reader is raised here; if the caller
    stops early, the reader stops too.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not offer(batch):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)
            return
        offer(_DONE)

    reader = threading.Thread(target=read, name="copy-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def copy_tables(
    source: Database,
    target: Database,
    models: Sequence[type[Record]],
    batch_size: int = 5000,
    progress: Progress | None = None,
    where_for: WhereFor | None = None,
    create_schema: bool = True,
) -> list[TableCopy]:
    """Copy `models`' tables from `source` into `target` (both as `Context.system()`).

    Args:
        source: where records are read.
        target: where they are written; its tables are created if `create_schema`.
        models: the tables to copy.
        batch_size: records per write (and per transaction).
        progress: called with (table, records done so far, records in the table), once
            before the first batch and after each.
        where_for: an optional filter per model (the same on both sides, for
            verification too).
        create_schema: run ``target.ensure_schema(*models)`` first.

    Returns:
        One `TableCopy` per model (not yet verified: see `verify_tables`).

    Raises:
        CopyError: a table does not exist in the source.
    """
    if create_schema:
        target.ensure_schema(*models)
    with _gc_paused():
        return [
            _copy_table(source, target, model, batch_size, progress, where_for) for model in models
        ]


def _copy_table(
    source: Database,
    target: Database,
    model: type[Record],
    batch_size: int,
    progress: Progress | None,
    where_for: WhereFor | None,
) -> TableCopy:
    where = where_for(model) if where_for else None
    table = model_info(model).table
    try:
        total = source.repository(model).count(where)
    except SchemaError as exc:
        raise CopyError(f"{table}: not in the source database ({exc})") from exc
    result = TableCopy(table, total)
    target_repo = target.repository(model)
    # an empty target needs no per-batch "already there?" lookups
    skip_existing = target_repo.count(where) > 0
    done = 0
    if progress:
        progress(table, 0, total)
    for batch in _prefetched(_batches(_rows(source, model, where), batch_size)):
        result.written += target_repo.import_rows(
            batch, batch_size=len(batch), skip_existing=skip_existing
        )
        done += len(batch)
        if progress:
            progress(table, done, total)
    return result


def verify_tables(
    source: Database,
    target: Database,
    models: Sequence[type[Record]],
    results: Sequence[TableCopy] | None = None,
    where_for: WhereFor | None = None,
) -> list[TableCopy]:
    """Fill counts and checksums of both sides; `CopyError` if any table differs."""
    by_table = {r.table: r for r in results or ()}
    checked = []
    with _gc_paused():
        for model in models:
            where = where_for(model) if where_for else None
            table = model_info(model).table
            result = by_table.get(table) or TableCopy(table, -1)
            result.source_count, result.source_checksum = checksum(source, model, where)
            result.target_count, result.target_checksum = checksum(target, model, where)
            checked.append(result)
    bad = [r for r in checked if not r.verified]
    if bad:
        details = ", ".join(
            f"{r.table} (source {r.source_count} rows, target {r.target_count} rows"
            f"{', checksums differ' if r.source_count == r.target_count else ''})"
            for r in bad
        )
        raise CopyError(f"the copy does not match the source: {details}", checked)
    return checked
