"""One table directory held in memory, kept in step with other processes, and its reads.

On disk (``<Table>/``): one ``<id>.json`` per record (the truth), ``_metadata.json`` (a
snapshot: record ids with their files' fingerprints, secondary-index data, the
generation it reflects) and ``_journal.jsonl`` (the writes since that snapshot, see
`repositories.jsonstore.writes`). Rows are cached as the bytes of their file (validated
straight into models by finds) and, once a filter or an update needs it, as a dict.

The lock discipline lives here, once: `take` (lock, rebuild the table if its last writer
died, bring the view up to date) and the context managers built on it, `locked`,
`locked_if_free` and `reading` (the in-process layer only: reads take no
inter-process lock). Every path, reads and writes, transactions and ``check``, uses them.

Every other process notices a write with one ``stat`` of the journal (same inode and
size: nothing changed) and applies only the new lines, evicting the rows they name. A
cold load, a compaction by someone else or anything unexpected reloads under the lock.

What the index claims is checked against what is read: a row read from its file is
compared with the index's claims; a difference that no writer announced is taken into
the index (`adopt`), and the query evaluates every condition on the row as read, so no
row that does not satisfy the query as stored in the file returned is ever returned. A
record file that cannot be read makes every query that might need it raise
`StoreCorrupted` (always, not once), until it is fixed or removed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Sequence
from types import TracebackType

from repositories.errors import LockTimeout, RepositoryError, StoreCorrupted
from repositories.jsonstore import files, journal
from repositories.jsonstore.index import Plan
from repositories.jsonstore.load import TableLoad
from repositories.jsonstore.writes import Row
from repositories.lookups import Condition

__all__ = ["TableState"]


class _Locked:
    """``with state.locked():`` `take` on entry (yields whether a recovery ran), release."""

    __slots__ = ("_load", "_state", "_timeout")

    def __init__(self, state: TableState, timeout: float | None, load: bool) -> None:
        self._state, self._timeout, self._load = state, timeout, load

    def __enter__(self) -> bool:
        return self._state.take(self._timeout, self._load)

    def __exit__(self, *exc: object) -> None:
        self._state.lock.release()


class _IfFree:
    """``with state.locked_if_free() as got:`` like `_Locked`, without waiting: `got` is
    None when another thread or process holds the table."""

    __slots__ = ("_got", "_state")

    def __init__(self, state: TableState) -> None:
        self._state = state
        self._got = False

    def __enter__(self) -> bool | None:
        state = self._state
        dirty = state.lock.try_acquire()
        if dirty is None:
            return None
        self._got = True
        try:
            state.recover(dirty, load=True)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return dirty

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._got:
            self._got = False
            self._state.lock.release()


class _Reading:
    """``with state.reading():`` the in-process layer and a current view (reads)."""

    __slots__ = ("_state",)

    def __init__(self, state: TableState) -> None:
        self._state = state

    def __enter__(self) -> TableState:
        state = self._state
        state.lock.acquire_local()
        try:
            state.sync()
        except BaseException:
            state.lock.release_local()
            raise
        return state

    def __exit__(self, *exc: object) -> None:
        self._state.lock.release_local()


class TableState(TableLoad):
    """The in-memory view of one table directory, kept in step with other processes."""

    @functools.cached_property
    def _reading(self) -> _Reading:
        return _Reading(self)  # stateless: one per table serves every read

    # --- the lock discipline --------------------------------------------------------

    @property
    def held(self) -> bool:
        """Whether this thread holds the table's inter-process lock."""
        return self.lock.held

    def take(self, timeout: float | None = None, load: bool = True) -> bool:
        """Lock the table for this thread (re-entrant) and make the view current.

        A table whose last writer died holding the lock is rebuilt from its record files
        first. The caller releases with ``lock.release()`` (or uses `locked`).

        Args:
            timeout: seconds to wait (default: the store's lock timeout; 0: only try).
            load: bring the view up to date (`sync`); off for `check`, which reads the
                files itself.

        Returns:
            Whether a dead writer's table was recovered.

        Raises:
            LockTimeout: not acquired within `timeout`.
        """
        dirty = self.lock.acquire(timeout)
        try:
            self.recover(dirty, load)
        except BaseException:
            self.lock.release()
            raise
        return dirty

    def recover(self, dirty: bool, load: bool) -> None:
        """Just after acquiring: rebuild if the last holder died, then (if `load`) sync."""
        if dirty:
            self.load_locked(dirty=True)
        if load:
            self.sync()

    def locked(self, timeout: float | None = None, load: bool = True) -> _Locked:
        """`take` for the length of a ``with`` block (its value: whether a recovery ran)."""
        return _Locked(self, timeout, load)

    def locked_if_free(self) -> _IfFree:
        """`locked` without waiting (its value: None when the table is busy)."""
        return _IfFree(self)

    def reading(self) -> _Reading:
        """The in-process layer only, and a current view: how reads run outside a
        transaction (an atomic replace never shows another process a torn record)."""
        return self._reading

    def forget(self) -> None:
        """Drop the cached view (the next call loads the table again)."""
        self.lock.acquire_local()
        try:
            self._reset()
        finally:
            self.lock.release_local()

    # --- keeping in step ------------------------------------------------------------

    def sync(self) -> None:
        """Bring the view up to date with the directory (one ``stat`` when unchanged)."""
        if self.loaded:  # the hot path of every read: one stat, compared inline
            try:
                st = os.stat(self._journal)
                unchanged = (
                    st.st_size == self.journal_size and (st.st_dev, st.st_ino) == self.journal_sig
                )
            except FileNotFoundError:
                unchanged = self.journal_sig is None
            if unchanged and not self.pending:
                return
        if not self.loaded or not self._follow():
            if self.lock.held:
                self.load_locked(dirty=False)
            else:
                self.loaded = False  # `take` syncs again under the lock: a full load
                with self.locked():
                    pass
        if self.pending and not self.lock.held:
            # announced ids without a commit: if the lock is free, their writer died
            with self.locked_if_free() as got:
                if got is not None and self.pending:
                    self.load_locked(dirty=True)

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

    def compact(self) -> None:
        """Rewrite the snapshot if this view wrote or saw journal lines (lock not waited for).

        Raises:
            LockTimeout: another process holds the table right now.
        """
        if not self.loaded or self.journal_sig is None:
            return
        if self.journal_size <= self.journal_header_size:
            return  # nothing but the header line: the snapshot is current
        with self.locked(timeout=0.0):  # a recovery writes a fresh snapshot itself
            if self.journal_sig is not None and self.journal_size > self.journal_header_size:
                self.write_snapshot()

    def ensure_created(self) -> None:
        """Create the table's directory, metadata and journal if they do not exist."""
        with self.locked():
            if self.journal_sig is None:
                self.write_snapshot()

    def close(self) -> None:
        """Fold the journal into the snapshot and close the table's files.

        Compaction only saves the next cold load some journal lines: a table another
        process holds, or a full disk, leaves the journal as it is (still valid). A
        table this thread holds (inside a transaction) is left open.
        """
        if self.lock.held:
            return
        with contextlib.suppress(LockTimeout, RepositoryError):
            self.compact()
        super().close()

    # --- reading rows ---------------------------------------------------------------

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
            with self.locked():
                return self._refetch(record_id)
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
            with self.locked_if_free() as got:
                if got is not None:  # else busy: whoever reads it next takes it in
                    self.adopt([record_id])
            return
        self.adopt([record_id])  # nobody announced it: changed behind the store's back

    # --- planning ---------------------------------------------------------------------

    def plan(self, conditions: Sequence[Condition]) -> Plan:
        """The index's plan for a query; `StoreCorrupted` if it could need an unreadable file."""
        if self.corrupted:
            self.refuse_corrupted(conditions)
        return self.index.plan(conditions)

    def refuse_corrupted(self, conditions: Sequence[Condition]) -> None:
        """`StoreCorrupted` if the query could need a record file that cannot be read."""
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
