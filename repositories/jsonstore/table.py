"""One table directory held in memory: ids, secondary indexes and lazily loaded rows.

Rows are cached as the bytes of their file (validated straight into models by finds)
and, once a filter or an update needs it, as a dict.

On disk (``<Table>/``): one ``<id>.json`` per record (the truth), ``_metadata.json`` (a
snapshot: record ids, secondary-index data, the generation it reflects) and
``_journal.jsonl`` (one line per write since that snapshot: the generation and the ids
put or deleted with their indexed values). A write costs one record file plus one short
``O_APPEND`` line; the snapshot is rewritten (compacted) once the journal grows big.

Every other process notices a write with one ``stat`` of the journal (same inode and
size: nothing changed) and applies only the new lines, evicting the rows they name. A
cold load, a compaction by someone else or anything unexpected reloads under the lock.
After a writer died mid-operation (the lock's pid file is not empty) the table is
rebuilt from its record files and orphaned temp files are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from models.schema import FieldSpec
from repositories.errors import InvalidQuery, RepositoryError, StoreCorrupted
from repositories.jsonstore import files, journal
from repositories.jsonstore.files import JOURNAL, METADATA, RECORD_SUFFIX
from repositories.jsonstore.index import TableIndex
from repositories.jsonstore.locks import TableLock

__all__ = ["TableState"]

#: Rewrite the snapshot once the journal is this big (a cold load replays the journal).
COMPACT_BYTES = 4 * 1024 * 1024
Row = dict[str, Any]
Undo = list[tuple["TableState", str, bytes | None]]


class TableState:
    """The in-memory view of one table directory, kept in step with other processes."""

    def __init__(
        self,
        table: str,
        directory: Path,
        index_fields: Mapping[str, FieldSpec | None],
        lock_timeout: float,
        durable: bool,
    ) -> None:
        self.table = table
        self.directory = directory
        self.index_fields = dict(index_fields)
        self.durable = durable
        self.lock = TableLock(table, directory, lock_timeout)
        self._dir = os.fspath(directory)
        self._journal = os.path.join(self._dir, JOURNAL)
        self._dir_fd: int | None = None
        self._journal_fd: int | None = None
        self._journal_fd_sig: tuple[int, int] | None = None
        self._reset()

    def _reset(self) -> None:
        self.loaded = False
        self.index = TableIndex(self.index_fields)
        self.rows: dict[str, Row] = {}
        # the bytes each cached row was read from or written as: finds validate them
        # straight into models (fresh objects, and faster than walking the dicts)
        self.raw: dict[str, bytes] = {}
        self.generation = 0
        self.journal_sig: tuple[int, int] | None = None
        self.journal_size = 0
        self.journal_header_size = 0

    # --- index maintenance ------------------------------------------------------------

    @property
    def ids(self) -> set[str]:
        return self.index.ids

    def index_values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self.index.values(row)

    def lookup(self, field: str, keys: Iterable[Any]) -> set[str] | None:
        """Ids whose indexed `field` equals one of `keys`; None when `field` has no index."""
        return self.index.lookup(field, keys)

    def _put(self, record_id: str, values: Mapping[str, Any]) -> None:
        self.rows.pop(record_id, None)
        self.raw.pop(record_id, None)
        self.index.put(record_id, values)

    def _drop(self, record_id: str) -> None:
        self.rows.pop(record_id, None)
        self.raw.pop(record_id, None)
        self.index.drop(record_id)

    # --- paths ------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path:
        return self.directory / JOURNAL

    @property
    def metadata_path(self) -> Path:
        return self.directory / METADATA

    def path(self, record_id: str) -> Path:
        return files.record_path(self.directory, record_id)

    def _file(self, record_id: str) -> str:
        return f"{self._dir}/{record_id}{RECORD_SUFFIX}"

    def _directory_fd(self) -> int:
        if self._dir_fd is None:
            self._dir_fd = os.open(self._dir, os.O_RDONLY | os.O_CLOEXEC)
        return self._dir_fd

    # --- keeping in step ------------------------------------------------------------

    def sync(self) -> None:
        """Bring the view up to date with the directory (one ``stat`` when unchanged)."""
        if not self.loaded:
            self._reload()
            return
        try:
            st = os.stat(self._journal)
        except FileNotFoundError:
            if self.journal_sig is not None:
                self._reload()
            return
        if (
            (st.st_dev, st.st_ino) != self.journal_sig
            or st.st_size < self.journal_size
            or (st.st_size > self.journal_size and not self._follow_journal())
        ):
            self._reload()

    def _reload(self) -> None:
        if self.lock.held:
            self.load_locked(dirty=False)
            return
        dirty = self.lock.acquire()
        try:
            self.load_locked(dirty)
        finally:
            self.lock.release()

    def _follow_journal(self) -> bool:
        """Apply journal lines appended since the last look; False if a reload is needed."""
        if self.journal_sig is None:
            return False
        tail = journal.read_tail(self.journal_path, self.journal_sig, self.journal_size)
        if tail is None:
            return False
        entries, end = tail
        for entry in entries:
            if entry.get("g") != self.generation + 1:
                return False
            self._apply(entry)
        self.journal_size = end
        return True

    def _apply(self, entry: Mapping[str, Any]) -> None:
        for record_id in entry.get("del", ()):
            self._drop(record_id)
        for record_id, values in (entry.get("put") or {}).items():
            self._put(record_id, values)
        self.generation = int(entry["g"])

    def load_locked(self, dirty: bool) -> None:
        """(Re)load from disk; the caller holds the lock. `dirty`: a writer died: rebuild."""
        self._reset()
        if dirty:
            self.rebuild()
        elif not self.directory.is_dir():
            self.loaded = True
        elif not self.read_view():
            self.rebuild()
        else:
            self.loaded = True
            self._reconcile()

    def read_view(self) -> bool:
        """Load snapshot + journal without writing anything; False if they must be derived.

        Raises:
            StoreCorrupted: ``_metadata.json`` or ``_journal.jsonl`` is damaged.
        """
        if not self._read_snapshot():
            return False
        found = journal.read_journal(self.journal_path)
        if found is None or found.base > self.generation:
            return False  # missing, torn, or newer than the snapshot: derive both again
        if files.BOOT_ID is not None and found.boot != files.BOOT_ID:
            return False  # written before a reboot: lines may be lost (see files.BOOT_ID)
        for entry in found.entries:
            if entry["g"] <= self.generation:
                continue
            if entry["g"] != self.generation + 1:
                raise StoreCorrupted(f"{self.journal_path}: generation gap before {entry['g']}")
            self._apply(entry)
        self.journal_sig, self.journal_size = found.sig, found.size
        self.journal_header_size = found.header_size
        return True

    def _read_snapshot(self) -> bool:
        """Load ``_metadata.json`` into the view; False when absent, foreign or outdated."""
        meta = journal.read_snapshot(self.metadata_path)
        if meta is None or set(meta["indexes"]) != set(self.index_fields):
            return False  # none, the original application's, or an index added since
        try:
            self.index.load_snapshot(meta["ids"], meta["indexes"])
            self.generation = int(meta.get("generation", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreCorrupted(
                f"{self.metadata_path}: corrupted file (index data does not match ids: {exc!r})"
            ) from exc
        return True

    def _reconcile(self) -> None:
        """Compare the view with the directory listing (files are the truth)."""
        on_disk, _ = files.record_ids_on_disk(self.directory)
        missing = self.ids - on_disk
        if missing:
            self.loaded = False
            first = sorted(missing)[0]
            raise StoreCorrupted(
                f"{self.path(first)}: listed in {METADATA} but missing ({len(missing)} "
                "record file(s) missing); run `connectors db check --repair`"
            )
        extra = on_disk - self.ids
        if extra:  # written by hand or by the original application: adopt, never drop
            puts = {rid: self.index_values(self.read_row(rid, adopt=True)) for rid in extra}
            self.append({"put": puts})

    def rebuild(self, skip_corrupted: bool = False) -> list[tuple[Path, str]]:
        """Derive ids and index data from the record files; remove orphaned temp files.

        Returns the corrupted files skipped (only with `skip_corrupted`; else they raise).
        """
        previous = journal.last_generation(self.directory, self.generation)
        self._reset()
        on_disk, temps = files.record_ids_on_disk(self.directory)
        for name in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / name)
        corrupted: list[tuple[Path, str]] = []
        for rid in sorted(on_disk):
            try:
                row = self.read_row(rid, adopt=True)
            except StoreCorrupted as exc:
                if not skip_corrupted:
                    raise
                corrupted.append((self.path(rid), str(exc)))
                continue
            self.index.put(rid, self.index_values(row))  # read_row cached the row itself
        self.generation = previous + 1
        self.loaded = True
        if self.directory.is_dir():
            self.write_snapshot()
        return corrupted

    # --- writing (the caller holds the lock) ------------------------------------------

    def write_snapshot(self) -> None:
        """Write ``_metadata.json`` from the view and start an empty journal after it."""
        self.journal_sig, self.journal_header_size = journal.write_snapshot(
            self.directory,
            self.table,
            self.generation,
            sorted(self.ids),
            self.index.to_snapshot(),
            self.durable,
        )
        self.journal_size = self.journal_header_size

    def append(self, entry: dict[str, Any]) -> None:
        """Record one write (``put``: id -> indexed values, ``del``: ids) as a new generation."""
        entry = {"g": self.generation + 1, **entry}
        line = files.encode(entry, self.table) + b"\n"
        if self.journal_sig is None:
            self.write_snapshot()
        if self._journal_fd is None or self._journal_fd_sig != self.journal_sig:
            self.close_journal()
            self._journal_fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self._journal_fd_sig = self.journal_sig
        os.write(self._journal_fd, line)
        self.journal_size += len(line)
        self._apply(entry)
        if self.journal_size > COMPACT_BYTES:
            self.write_snapshot()

    def compact(self) -> None:
        """Rewrite the snapshot if this view wrote or saw journal lines (lock not waited for).

        Raises:
            LockTimeout: another process holds the table right now.
        """
        if not self.loaded or self.journal_sig is None:
            return
        if self.journal_size <= self.journal_header_size:
            return  # nothing but the header line: the snapshot is current
        dirty = self.lock.acquire(timeout=0.0)
        try:
            if dirty:
                self.load_locked(dirty=True)  # a rebuild writes a fresh snapshot itself
                return
            self.sync()
            if self.journal_sig is not None and self.journal_size > self.journal_header_size:
                self.write_snapshot()
        finally:
            self.lock.release()

    def close_journal(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
        self._journal_fd = self._journal_fd_sig = None

    # --- rows -----------------------------------------------------------------------

    def read_row(self, record_id: str, adopt: bool = False) -> Row:
        """Read one record file into the row cache (`StoreCorrupted` if unreadable)."""
        file = self._file(record_id)
        data = files.read_bytes(file)
        row = files.decode(data, file)
        if not isinstance(row, dict):
            path = self.path(record_id)
            raise StoreCorrupted(f"{path}: corrupted file (not a JSON object)")
        has_id = "id" in row  # the original application may leave it to the file name
        stored_id = row.setdefault("id", record_id)
        if stored_id != record_id:
            path = self.path(record_id)
            raise StoreCorrupted(f"{path}: corrupted file (holds record id {stored_id!r})")
        if not adopt and record_id not in self.ids:
            return row
        self.rows[record_id] = row
        if has_id:
            self.raw[record_id] = data
        return row

    def row(self, record_id: str) -> Row | None:
        """The row of `record_id`, from the cache or its file; None if it does not exist."""
        if record_id not in self.ids:
            return None
        cached = self.rows.get(record_id)
        if cached is not None:
            return cached
        data = self.raw.get(record_id)
        if data is not None:  # written by us: the dict form is made when first needed
            row: Row = json.loads(data)
            self.rows[record_id] = row
            return row
        try:
            return self.read_row(record_id)
        except FileNotFoundError:
            if self.lock.held:
                raise StoreCorrupted(
                    f"{self.path(record_id)}: listed in {METADATA} but missing; "
                    "run `connectors db check --repair`"
                ) from None
        self._reload()  # deleted while we looked: see the directory as it is now
        return self.row(record_id)

    def rows_of(self, ids: Iterable[str]) -> list[Row]:
        """The rows of `ids` (cached ones straight from the dict: the hot loop of finds)."""
        cached = self.rows
        out = []
        for record_id in ids:
            row = cached.get(record_id)
            if row is None:
                row = self.row(record_id)
                if row is None:
                    continue
            out.append(row)
        return out

    def file_bytes(self, record_id: str) -> bytes | None:
        """The record file as it is now (for a transaction's undo log)."""
        try:
            return files.read_bytes(self._file(record_id))
        except FileNotFoundError:
            return None

    def write_rows(self, rows: list[Row], undo: Undo | None, new: bool = False) -> None:
        """Create or replace record files (one durable batch) and journal them.

        `new`: the ids are known not to exist (the undo log needs no read of them).
        """
        encoded = [
            (self._file(row["id"]), files.encode(row, f"{self.table} {row['id']!r}"))
            for row in rows
        ]
        if new:
            for path, _ in encoded:
                if os.path.lexists(path):  # never overwrite a file we do not know about
                    raise InvalidQuery(
                        f"{path}: a file of that name exists but is not a record of "
                        f"{self.table} (placed by hand, or an id differing only in case on a "
                        "case-insensitive file system); run `connectors db check`"
                    )
        if undo is not None:
            undo.extend(
                (self, row["id"], None if new else self.file_bytes(row["id"])) for row in rows
            )
        try:
            if self.journal_sig is None:  # the table's first write creates its directory
                self.write_snapshot()
            if len(encoded) == 1:
                dir_fd = self._directory_fd() if self.durable else None
                files.write_atomic(encoded[0][0], encoded[0][1], self.durable, dir_fd=dir_fd)
            else:
                files.replace_many(self.directory, encoded, self.durable)
            self.append({"put": {row["id"]: self.index_values(row) for row in rows}})
        except BaseException as exc:
            raise self._failed(exc) from exc
        for row, (_, data) in zip(rows, encoded, strict=True):
            self.raw[row["id"]] = data  # the dict form is parsed from it when needed

    def delete_rows(self, record_ids: list[str], undo: Undo | None) -> None:
        """Remove record files (one directory fsync) and journal it."""
        try:
            for record_id in record_ids:
                if undo is not None:
                    undo.append((self, record_id, self.file_bytes(record_id)))
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._file(record_id))
            if self.durable:
                os.fsync(self._directory_fd())
            self.append({"del": list(record_ids)})
        except BaseException as exc:
            raise self._failed(exc) from exc

    def restore(self, originals: Mapping[str, bytes | None]) -> None:
        """Put record files back as they were (a transaction rolling back)."""
        puts: dict[str, dict[str, Any]] = {}
        gone: list[str] = []
        rows: dict[str, Row] = {}
        raw: dict[str, bytes] = {}
        try:
            for record_id, data in originals.items():
                path = self.path(record_id)
                if data is None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    gone.append(record_id)
                else:
                    files.write_atomic(path, data, self.durable, sync_dir=False)
                    restored = files.decode(data, path)
                    if "id" in restored:
                        raw[record_id] = data
                    restored.setdefault("id", record_id)
                    rows[record_id] = restored
                    puts[record_id] = self.index_values(rows[record_id])
            if self.durable:
                files.fsync_dir(self.directory)
            self.append({"put": puts, "del": gone})
        except BaseException as exc:
            raise self._failed(exc) from exc
        self.rows.update(rows)
        self.raw.update(raw)

    def _failed(self, exc: BaseException) -> BaseException:
        """A write broke off halfway: leave the table marked for recovery (a rebuild).

        Returns the error to raise: OS errors as a `RepositoryError` naming the table.
        """
        self.lock.poison()
        self.loaded = False
        if isinstance(exc, OSError):
            return RepositoryError(f"{self.table}: write failed: {exc}")
        return exc

    def close(self) -> None:
        self.close_journal()
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None
        self.lock.close()
