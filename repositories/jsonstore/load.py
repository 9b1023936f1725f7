"""Loading a table directory into the in-memory view, and deriving it again.

A load reads ``_metadata.json`` and replays ``_journal.jsonl``, then compares every
record file's fingerprint with the one recorded: files changed behind the store's back
(by hand, by the original application, by a copy of the store) are read and their values
taken into the index (files are the truth). A table whose last writer died, whose
metadata is missing, foreign or outdated, or whose journal predates this boot is
derived again from its record files. Files that cannot be read are kept out of the
index and listed in `corrupted`. The caller holds the table's lock throughout.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

from repositories.errors import RepositoryError, StoreCorrupted
from repositories.jsonstore import files, journal
from repositories.jsonstore.writes import Row, TableWrites

__all__ = ["TableLoad"]

#: A cold load that finds more than one in this many record files changed (a copied or
#: restored store: every inode differs) derives the whole table again.
REBUILD_FRACTION = 8


class TableLoad(TableWrites):
    """The view's loading and recovery (the caller holds the lock)."""

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
            self._reconcile()
            self.loaded = True

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
            if "p" in entry:
                self.pending = set(entry["p"])
            elif entry["g"] <= self.generation:
                self.pending.clear()
            elif entry["g"] == self.generation + 1:
                self._apply(entry)
            else:
                raise StoreCorrupted(f"{self.journal_path}: generation gap before {entry['g']}")
        if self.pending:
            return False  # announced, never committed, and nobody at work: derive again
        self.journal_sig, self.journal_size = found.sig, found.size
        self.journal_header_size = found.header_size
        return True

    def _read_snapshot(self) -> bool:
        """Load ``_metadata.json`` into the view; False when absent, foreign or outdated."""
        meta = journal.read_snapshot(self.metadata_path)
        if meta is None or set(meta["indexes"]) != set(self.index_fields):
            return False  # none, the original application's, or an index added since
        try:
            self.index.load_snapshot(meta["ids"], meta["fps"], meta["indexes"])
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise StoreCorrupted(
                f"{self.metadata_path}: corrupted file (index data does not match ids: {exc!r})"
            ) from exc
        self.generation = meta["generation"]
        with contextlib.suppress(OSError):
            self.snapshot_bytes = os.stat(self.metadata_path).st_size
        return True

    def _reconcile(self) -> None:
        """Compare the view with the record files (the truth) and their fingerprints."""
        on_disk, _ = files.scan_records(self.directory)
        missing = self.ids.difference(on_disk)
        if missing:
            first = sorted(missing)[0]
            raise StoreCorrupted(
                f"{self.path(first)}: listed in {files.METADATA} but missing ({len(missing)} "
                "record file(s) missing); run `connectors db check --repair`"
            )
        fps = self.index.fps
        if on_disk == fps:  # the common case, compared in C
            return
        changed = [rid for rid, fp in on_disk.items() if fps.get(rid) != fp]
        if len(changed) > 64 and len(changed) * REBUILD_FRACTION > len(on_disk):
            self.rebuild()
        elif changed:  # written by hand or by the original application: adopt, never drop
            self.adopt(changed)

    def adopt(self, record_ids: Sequence[str]) -> None:
        """Take what these record files hold into the index (the lock is held)."""
        puts: dict[str, Any] = {}
        fps: dict[str, int] = {}
        for record_id in record_ids:
            found = self._read_or_mark(record_id)
            if found is None:
                continue
            row, _, fp = found
            if self.index.fps.get(record_id) != fp or self.index.is_stale(record_id, row):
                puts[record_id] = self.index_values(row)
                fps[record_id] = fp
        if not puts:
            return
        try:
            self.append({"put": puts, "fp": fps})
        except RepositoryError:  # no room to say it: other processes find out themselves
            for record_id, values in puts.items():
                self._evict(record_id)
                self.index.put(record_id, values, fps[record_id])

    def rebuild(self) -> None:
        """Derive ids and index data from the record files; remove orphaned temp files.

        Files that cannot be read are kept out of the index and listed in `corrupted`.
        """
        previous = journal.last_generation(self.directory, self.generation)
        self._reset()
        on_disk, temps = files.scan_records(self.directory)
        for name in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / name)
        for record_id in sorted(on_disk):
            found = self._read_or_mark(record_id)
            if found is None:
                continue
            row, data, fp = found
            self.index.put(record_id, self.index_values(row), fp)
            self._cache(record_id, row, data)
        self.generation = previous + 1
        self.loaded = True
        if self.directory.is_dir():
            self.snapshot_or_stay()

    def _read_or_mark(self, record_id: str) -> tuple[Row, bytes | None, int] | None:
        """`read_row`, or None when the file is gone or cannot be read (then marked)."""
        try:
            return self.read_row(record_id)
        except FileNotFoundError:
            return None
        except StoreCorrupted as exc:
            self._mark_corrupted(record_id, exc)
            return None

    def _mark_corrupted(self, record_id: str, exc: StoreCorrupted) -> None:
        try:
            fp = files.fingerprint(os.stat(self._file(record_id)))
        except OSError:
            fp = 0
        self.corrupted[record_id] = (fp, str(exc))
        self._evict(record_id)
        self.index.drop(record_id)

    # --- reading record files -----------------------------------------------------------

    def read_row(self, record_id: str) -> tuple[Row, bytes | None, int]:
        """A record file's row, its bytes (None if they lack the id) and fingerprint.

        Raises:
            FileNotFoundError: no such file.
            StoreCorrupted: the file cannot be read as a record of this id.
        """
        file = self._file(record_id)
        data, fp = files.read_record(file)
        row = files.decode(data, file)
        if not isinstance(row, dict):
            raise StoreCorrupted(f"{self.path(record_id)}: corrupted file (not a JSON object)")
        has_id = "id" in row  # the original application may leave it to the file name
        stored_id = row.setdefault("id", record_id)
        if stored_id != record_id:
            raise StoreCorrupted(
                f"{self.path(record_id)}: corrupted file (holds record id {stored_id!r})"
            )
        return row, data if has_id else None, fp

    def _cache(self, record_id: str, row: Row, data: bytes | None) -> None:
        self.rows[record_id] = row
        if data is not None:
            self.raw[record_id] = data
