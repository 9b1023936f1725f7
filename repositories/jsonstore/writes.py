"""A table's in-memory view, and every change to its files (the caller holds the lock).

A record write follows one protocol, so that no reader in another process ever trusts
an index entry whose file is changing, and so that a full disk fails the write before
anything visible changed:

1. stage: the new record files are written to temp files, fsynced and verified;
2. room for the journal lines is reserved (``fallocate``), so appending cannot fail;
3. announce: ``{"p": [ids]}`` is appended; readers now read those records' files;
4. the record files are replaced (or unlinked), the directory fsynced;
5. commit: ``{"g": n, "put": ..., "fp": ..., "del": ...}`` is appended.

A failure in steps 1-3 changes nothing. A failure in step 4 or 5 is settled: the files
named by the announcement are read back (each holds its old or its new content, as every
replace is atomic) and a commit saying what they now hold is appended, so the table
stays consistent and usable. A writer killed between 3 and 5 leaves the announcement
without a commit: readers keep reading those files until the next lock holder, seeing
the dead writer's pid, rebuilds the table.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from models.schema import FieldSpec
from repositories.errors import InvalidQuery, RepositoryError
from repositories.jsonstore import atomic, files, journal
from repositories.jsonstore.atomic import Staged
from repositories.jsonstore.files import JOURNAL, METADATA, RECORD_SUFFIX
from repositories.jsonstore.index import TableIndex
from repositories.jsonstore.locks import TableLock

__all__ = ["COMPACT_BYTES", "Row", "TableWrites", "Undo"]

log = logging.getLogger(__name__)

#: Rewrite the snapshot once the journal is this big and bigger than the snapshot itself
#: (a cold load replays the journal). Growing with the snapshot keeps a compaction's cost,
#: O(records), a fixed share of the writes between two: bulk writes stay flat in table
#: size, and a cold load replays at most about as much journal as snapshot.
COMPACT_BYTES = 4 * 1024 * 1024
#: Journal room reserved at a time beyond what a write needs (one ``fallocate`` per many).
RESERVE_CHUNK = 64 * 1024
Row = dict[str, Any]
Undo = list[tuple["TableWrites", str, bytes | None]]


class TableWrites:
    """The in-memory view of one table directory and the writes that change it."""

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
        # ids announced by a writer that has not committed (in flux, or the writer died)
        self.pending: set[str] = set()
        # record files that cannot be read: id -> (fingerprint, why)
        self.corrupted: dict[str, tuple[int, str]] = {}
        self.generation = 0
        self.journal_sig: tuple[int, int] | None = None
        self.journal_size = 0
        self.journal_header_size = 0
        self.snapshot_bytes = 0  # the size of the snapshot the journal follows
        self._reserved = 0  # the journal's blocks are reserved up to this offset
        # the view is right but the metadata on disk is not (the disk refused a snapshot):
        # the journal is followed as it is, and the next write writes a snapshot first
        self.stale = False

    @property
    def ids(self) -> set[str]:
        return self.index.ids

    def index_values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self.index.values(row)

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

    # --- applying journal entries -------------------------------------------------------

    def _evict(self, record_id: str) -> None:
        self.rows.pop(record_id, None)
        self.raw.pop(record_id, None)

    def _announce(self, record_ids: list[str]) -> None:
        for record_id in record_ids:
            self.pending.add(record_id)
            self._evict(record_id)

    def _apply(self, entry: Mapping[str, Any]) -> None:
        """Apply a commit line: the announced write is over."""
        for record_id in entry.get("del", ()):
            self._evict(record_id)
            self.index.drop(record_id)
            self.corrupted.pop(record_id, None)
        fps = entry.get("fp") or {}
        for record_id, values in (entry.get("put") or {}).items():
            self._evict(record_id)
            self.index.put(record_id, values, fps.get(record_id))
            self.corrupted.pop(record_id, None)
        self.generation = int(entry["g"])
        self.pending.clear()

    # --- the journal file -------------------------------------------------------------

    def _journal_handle(self) -> int:
        if self.journal_sig is None or self.stale:
            self.write_snapshot()
        if self._journal_fd is None or self._journal_fd_sig != self.journal_sig:
            self.close_journal()
            self._journal_fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self._journal_fd_sig = self.journal_sig
        return self._journal_fd

    def _reserve(self, need: int) -> None:
        """Make sure `need` more journal bytes can be appended (`OSError` if no space)."""
        end = self.journal_size + need
        if end <= self._reserved:
            return
        if atomic.reserve(self._journal_handle(), self.journal_size, need + RESERVE_CHUNK):
            self._reserved = end + RESERVE_CHUNK

    def _write_line(self, line: bytes) -> None:
        """Append one line; a failed append is cut off again (no torn line stays)."""
        fd = self._journal_handle()
        view = memoryview(line)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            if len(view) != len(line):
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, self.journal_size)
            raise
        self.journal_size += len(line)

    def append(self, entry: dict[str, Any]) -> None:
        """Commit `entry` (``put``: id -> indexed values, ``fp``, ``del``) as a generation."""
        entry = {"g": self.generation + 1, **entry}
        self._write_line(journal.encode_line(entry, self.table))
        self._apply(entry)
        self._compact_if_big()

    def _compact_if_big(self) -> None:
        if self.journal_size <= COMPACT_BYTES or self.journal_size <= self.snapshot_bytes:
            return
        try:
            self.write_snapshot()
        except RepositoryError as exc:  # the journal stays valid: compact another time
            log.warning("%s: compaction skipped: %s", self.table, exc)

    def write_snapshot(self) -> None:
        """Write ``_metadata.json`` from the view and start an empty journal after it."""
        self.journal_sig, self.journal_header_size, self.snapshot_bytes = journal.write_snapshot(
            self.directory, self.table, self.generation, self.index.to_snapshot(), self.durable
        )
        self.journal_size = self.journal_header_size
        self._reserved = 0
        self.stale = False

    def snapshot_or_stay(self) -> None:
        """Write the snapshot; if the disk refuses, keep the view (it is right) over the
        journal as it is: the next lock holder derives the metadata again, this view's
        reads keep following that journal, and its next write writes a snapshot first."""
        try:
            self.write_snapshot()
        except RepositoryError as exc:
            log.warning("%s: snapshot refused (%s): left for the next holder", self.table, exc)
            self.lock.poison()
            self.stale = True
            try:
                st = os.stat(self._journal)
            except FileNotFoundError:
                self.journal_sig = None
            else:
                self.journal_sig, self.journal_size = (st.st_dev, st.st_ino), st.st_size

    def close_journal(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
        self._journal_fd = self._journal_fd_sig = None

    def close(self) -> None:
        self.close_journal()
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None
        self.lock.close()

    # --- record writes ----------------------------------------------------------------

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
        ids = [row["id"] for row in rows]
        if undo is not None:
            undo.extend((self, rid, None if new else self.file_bytes(rid)) for rid in ids)
        staged = self._stage(encoded)
        puts = {row["id"]: self.index_values(row) for row in rows}
        entry = {"put": puts, "fp": {rid: item.fp for rid, item in zip(ids, staged, strict=True)}}
        self._journaled(ids, staged, entry, lambda: self._install(staged))
        for rid, (_, data) in zip(ids, encoded, strict=True):
            self.raw[rid] = data  # the dict form is parsed from it when needed

    def delete_rows(self, record_ids: list[str], undo: Undo | None) -> None:
        """Remove record files (one directory fsync) and journal it."""
        if undo is not None:
            undo.extend((self, rid, self.file_bytes(rid)) for rid in record_ids)

        def unlink() -> None:
            for record_id in record_ids:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._file(record_id))
            if self.durable:
                os.fsync(self._directory_fd())

        self._journaled(list(record_ids), [], {"del": list(record_ids)}, unlink)

    def restore(self, originals: Mapping[str, bytes | None]) -> None:
        """Put record files back as they were (a transaction rolling back)."""
        back = {rid: data for rid, data in originals.items() if data is not None}
        gone = [rid for rid, data in originals.items() if data is None]
        staged = self._stage([(self._file(rid), data) for rid, data in back.items()])
        puts: dict[str, Any] = {}
        for rid, data in back.items():
            restored = files.decode(data, self.path(rid))
            restored.setdefault("id", rid)
            puts[rid] = self.index_values(restored)
        fps = {rid: item.fp for rid, item in zip(back, staged, strict=True)}

        def put_back() -> None:
            self._install(staged)
            for record_id in gone:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._file(record_id))
            if self.durable and gone:
                os.fsync(self._directory_fd())

        self._journaled(list(originals), staged, {"put": puts, "fp": fps, "del": gone}, put_back)

    def _stage(self, items: list[tuple[str, bytes]]) -> list[Staged]:
        try:
            if self.journal_sig is None or self.stale:  # a first write creates the directory
                self.write_snapshot()
            return atomic.stage(items, self.durable, self.directory)
        except OSError as exc:
            raise RepositoryError(f"{self.table}: write failed: {exc}") from exc

    def _install(self, staged: list[Staged]) -> None:
        atomic.install(staged, self.durable, self._directory_fd() if self.durable else None)

    def _journaled(
        self,
        record_ids: list[str],
        staged: list[Staged],
        entry: dict[str, Any],
        change: Callable[[], None],
    ) -> None:
        """Announce `record_ids`, run `change` on their files, commit `entry`."""
        try:
            announce = journal.encode_line({"p": record_ids}, self.table)
            commit_entry = {"g": self.generation + 1, **entry}
            commit = journal.encode_line(commit_entry, self.table)
            # room for the commit twice over: a settled failure writes a line of its own
            try:
                self._reserve(len(announce) + 2 * len(commit) + 256)
            except OSError as exc:
                # a pure deletion frees space itself: try it on a full disk rather than
                # refuse the one write that lets the user out (a failed append is cut off)
                if staged or exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
            self._write_line(announce)
        except BaseException as exc:
            atomic.discard(staged)
            self._reraise(exc)
        try:
            change()
        except BaseException as exc:
            self._settle(record_ids)
            self._reraise(exc)
        self._commit(commit_entry, commit)

    def _commit(self, entry: dict[str, Any], line: bytes) -> None:
        """Append a commit line. The change it reports is made (its files are written), so
        a journal that refuses the line does not fail the write: the snapshot is written
        afresh instead, or, failing that too, left for the next lock holder to derive."""
        try:
            self._write_line(line)
        except OSError:
            self._apply(entry)
            self.snapshot_or_stay()
            return
        self._apply(entry)
        self._compact_if_big()

    def _settle(self, record_ids: list[str]) -> None:
        """After a change broke off: commit what the announced files hold now.

        If even that fails, the table is left for the next lock holder to rebuild.
        """
        try:
            puts: dict[str, Any] = {}
            fps: dict[str, int] = {}
            gone: list[str] = []
            for record_id in record_ids:
                try:
                    data, fp = files.read_record(self._file(record_id))
                except FileNotFoundError:
                    gone.append(record_id)
                    continue
                row = files.decode(data, self.path(record_id))
                puts[record_id] = self.index_values(row)
                fps[record_id] = fp
            entry = {"g": self.generation + 1, "put": puts, "fp": fps, "del": gone}
            self._commit(entry, journal.encode_line(entry, self.table))
        except BaseException:
            self.lock.poison()
            self.loaded = False

    def _reraise(self, exc: BaseException) -> typing.NoReturn:
        """Raise `exc`, OS errors as a `RepositoryError` naming the table."""
        if isinstance(exc, OSError):
            raise RepositoryError(f"{self.table}: write failed: {exc}") from exc
        raise exc
