"""One table directory held in memory, kept in step with other processes, and its reads.

On disk (``<Table>/``): one ``<id>.json`` per record (the truth), ``_metadata.json`` (a
snapshot: record ids with their files' fingerprints, secondary-index data, the
generation it reflects) and ``_journal.jsonl`` (the writes since that snapshot, see
`repositories.jsonstore.writes`). Rows are cached as the bytes of their file (validated
straight into models by finds) and, once a filter or an update needs it, as a dict.

Every other process notices a write with one ``stat`` of the journal (same inode and
size: nothing changed) and applies only the new lines, evicting the rows they name. A
cold load, a compaction by someone else or anything unexpected reloads under the lock.

What the index claims is checked against what is read:

- a cold load compares every record file's fingerprint with the one recorded; files
  changed behind the store's back are read and their values taken into the index;
- a row read from its file is compared with the index's claims; a difference that no
  writer announced is taken into the index the same way, and the query evaluates every
  condition on the row as read, so no row that does not satisfy the query as stored in
  the file returned is ever returned;
- a record file that cannot be read makes every query that might need it raise
  `StoreCorrupted` (always, not once), until it is fixed or removed.

After a writer died mid-operation (the lock's pid file is not empty) the table is
rebuilt from its record files and orphaned temp files are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from typing import Any

from repositories.errors import RepositoryError, StoreCorrupted
from repositories.jsonstore import files, journal
from repositories.jsonstore.index import Plan
from repositories.jsonstore.writes import Row, TableWrites
from repositories.lookups import Condition

__all__ = ["TableState"]

#: A cold load that finds more than one in this many record files changed (a copied or
#: restored store: every inode differs) derives the whole table again.
REBUILD_FRACTION = 8


class TableState(TableWrites):
    """The in-memory view of one table directory, kept in step with other processes."""

    # --- keeping in step ------------------------------------------------------------

    def sync(self) -> None:
        """Bring the view up to date with the directory (one ``stat`` when unchanged)."""
        if not self.loaded or not self._follow():
            self._reload()
        if self.pending and not self.lock.held:
            self._recover_dead_writer()

    def _follow(self) -> bool:
        """Apply journal lines appended since the last look; False if a reload is needed."""
        try:
            st = os.stat(self._journal)
        except FileNotFoundError:
            return self.journal_sig is None
        if (st.st_dev, st.st_ino) != self.journal_sig or st.st_size < self.journal_size:
            return False
        if st.st_size == self.journal_size:
            return True
        tail = journal.read_tail(self.journal_path, self.journal_sig, self.journal_size)
        if tail is None:
            return False
        entries, end = tail
        for entry in entries:
            if "p" in entry:
                self._announce(entry["p"])
            elif entry["g"] == self.generation + 1:
                self._apply(entry)
            else:
                return False
        self.journal_size = end
        return True

    def _reload(self) -> None:
        if self.lock.held:
            self.load_locked(dirty=False)
            return
        dirty = self.lock.acquire()
        try:
            self.load_locked(dirty)
        finally:
            self.lock.release()

    def _recover_dead_writer(self) -> None:
        """Announced ids without a commit, and the lock free: their writer died."""
        dirty = self.lock.try_acquire()
        if dirty is None:
            return  # a writer is at work: its commit will come
        try:
            if dirty:
                self.load_locked(dirty=True)
            elif not self._follow():
                self.load_locked(dirty=False)
            elif self.pending:
                self.load_locked(dirty=True)
        finally:
            self.lock.release()

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

    # --- loading (the caller holds the lock) --------------------------------------------

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
            try:
                row, _, fp = self.read_row(record_id)
            except FileNotFoundError:
                continue
            except StoreCorrupted as exc:
                self._mark_corrupted(record_id, exc)
                continue
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
            try:
                row, data, fp = self.read_row(record_id)
            except FileNotFoundError:
                continue
            except StoreCorrupted as exc:
                self._mark_corrupted(record_id, exc)
                continue
            self.index.put(record_id, self.index_values(row), fp)
            self._cache(record_id, row, data)
        self.generation = previous + 1
        self.loaded = True
        if self.directory.is_dir():
            try:
                self.write_snapshot()
            except RepositoryError:  # disk full: the view is right, the next holder retries
                self.lock.poison()

    def _mark_corrupted(self, record_id: str, exc: StoreCorrupted) -> None:
        try:
            fp = files.fingerprint(os.stat(self._file(record_id)))
        except OSError:
            fp = 0
        self.corrupted[record_id] = (fp, str(exc))
        self._evict(record_id)
        self.index.drop(record_id)

    # --- reading rows ---------------------------------------------------------------

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

    def fetch(self, record_id: str) -> tuple[Row, bool] | None:
        """A candidate's row, and whether it is the cached one (consistent with the index).

        False: read from its file just now; the caller evaluates every condition on it.
        None: the record does not exist (any more).
        """
        if record_id not in self.pending:
            row = self.rows.get(record_id)
            if row is not None:
                return row, True
            data = self.raw.get(record_id)
            if data is not None:  # written by us: the dict form is made when first needed
                row = json.loads(data)
                self.rows[record_id] = row
                return row, True
        return self._read_fresh(record_id)

    def _read_fresh(self, record_id: str, retry: bool = True) -> tuple[Row, bool] | None:
        """Read a candidate's file, compare it with the index's claims, cache it if equal.

        Raises:
            FileNotFoundError: no file, and `retry` is off.
        """
        try:
            row, raw, _ = self.read_row(record_id)
        except FileNotFoundError:
            if not retry:
                raise
            return self._refetch(record_id)
        except StoreCorrupted as exc:
            self._mark_corrupted(record_id, exc)
            raise
        if record_id not in self.pending:
            if record_id in self.ids and not self.index.is_stale(record_id, row):
                self._cache(record_id, row, raw)
            else:
                self._diverged(record_id, row)
        return row, False

    def row(self, record_id: str) -> Row | None:
        """The row of `record_id` (for a writer holding the lock); None if it does not exist."""
        if record_id not in self.ids:
            return None
        found = self.fetch(record_id)
        return None if found is None else found[0]

    def _refetch(self, record_id: str) -> tuple[Row, bool] | None:
        """A candidate's file was not there: deleted (and maybe created again) meanwhile,
        or lost? Follow the journal and look again; under the lock, where nobody writes,
        a record the metadata lists without a file is reported (`StoreCorrupted`)."""
        if not self.lock.held:
            for _ in range(2):
                if not self._follow():
                    break
                if record_id in self.pending or record_id not in self.ids:
                    return None
                with contextlib.suppress(FileNotFoundError):
                    return self._read_fresh(record_id, retry=False)
            dirty = self.lock.acquire()
            try:
                if dirty or not self._follow():
                    self.load_locked(dirty)
                return self._refetch(record_id)
            finally:
                self.lock.release()
        if record_id not in self.ids:
            return None
        with contextlib.suppress(FileNotFoundError):
            return self._read_fresh(record_id, retry=False)
        raise StoreCorrupted(
            f"{self.path(record_id)}: listed in {files.METADATA} but missing; "
            "run `connectors db check --repair`"
        )

    def _diverged(self, record_id: str, row: Row) -> None:
        """The file holds other indexed values than the index claims: whose change is it?"""
        if not self.lock.held:
            if not self._follow():
                return  # replaced meanwhile: the next call reloads
            if record_id in self.pending or not self.index.is_stale(record_id, row):
                return  # a writer's: announced, or committed meanwhile
            dirty = self.lock.try_acquire()
            if dirty is None:
                return  # busy: whoever reads it next takes it in
            try:
                if dirty:
                    self.load_locked(dirty=True)
                elif self._follow():
                    self.adopt([record_id])
            finally:
                self.lock.release()
            return
        self.adopt([record_id])  # nobody announced it: changed behind the store's back

    # --- planning ---------------------------------------------------------------------

    def plan(self, conditions: Sequence[Condition]) -> Plan:
        """The index's plan for a query; `StoreCorrupted` if it could need an unreadable file."""
        if self.corrupted:
            self._refuse_corrupted(conditions)
        return self.index.plan(conditions)

    def _refuse_corrupted(self, conditions: Sequence[Condition]) -> None:
        if any(
            self.corrupted[rid][0] != _fingerprint_or_zero(self._file(rid))
            for rid in self.corrupted
        ):  # fixed or removed by someone: take the directory as it is now
            self.loaded = False
            self.sync()
            if not self.corrupted:
                return
        wanted: set[str] | None = None
        for cond in conditions:
            if cond.field.name == "id" and cond.op in ("eq", "in"):
                values = {cond.value} if cond.op == "eq" else set(cond.value)
                wanted = values if wanted is None else wanted & values
        bad = sorted(self.corrupted if wanted is None else wanted & self.corrupted.keys())
        if bad:
            why = self.corrupted[bad[0]][1]
            raise StoreCorrupted(
                f"{why} ({len(bad)} record file(s) of {self.table} cannot be read; restore "
                "or remove them, `connectors db check` lists them)"
            )


def _fingerprint_or_zero(path: str) -> int:
    try:
        return files.fingerprint(os.stat(path))
    except OSError:
        return 0
