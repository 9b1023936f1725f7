"""The JSON-file backend: ``jsonfile://<dir>``, one file per record, the original layout.

``<dir>/<Table>/<id>.json`` holds each record under its storage (camelCase) names,
``<dir>/<Table>/_metadata.json`` the record ids, secondary-index data and a generation
counter (with ``_journal.jsonl``, the writes since that snapshot), ``<dir>/_system.json``
the initial ids. See `repositories.jsonstore` for the files, locks and the table cache.

Semantics are the contract's (`RepositoryBase`); lookups are evaluated with the same
`matches`/`sort_rows` the SQL backends are held to. Secondary indexes (``id``, fields
ending in ``_id``, fields marked ``index=True``) pick the candidates of equality and
``in`` lookups, so ``get`` and those finds never scan.

Writes take the table's inter-process lock; reads outside a transaction take none (an
atomic replace never shows a torn record). Inside ``transaction()`` every table touched,
read or written, stays locked until the block ends, and a block that raises gets every
file it changed put back. Several tables are locked in one order (by name): tables given
to ``transaction(*models)`` up front, then later ones that sort after all held ones; a
table that would break the order is only tried without waiting (`LockTimeout` at once
rather than a deadlock).

Across processes: a reader never returns a row that does not satisfy its query and
access scope as stored in the file it was read from; a writer announces the records it
is about to change in the journal first, so readers read those files instead of
trusting the index (and recover the table themselves if that writer died). Files changed
behind the store's back are noticed (per-file fingerprints on load, index claims checked
when a row is read) and taken in; damaged metadata, journal lines and unreadable record
files raise `StoreCorrupted` on every call that needs them. A full disk fails only the
writes that need room (before anything visible changed); reads, deletes and ``close()``
keep working.

Limits: POSIX only (``fcntl.flock``); a transaction is all-or-nothing when its block
raises, not across a crash (a writer killed mid-transaction leaves the writes it
completed; the next open recovers the metadata, every record file stays intact). The
first open of a directory written by the original application replaces its
``_metadata.json`` with ours (the records are not touched).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Literal, TypeVar

from models.base import Record
from models.schema import model_info
from repositories.base import DatabaseBase
from repositories.context import Context
from repositories.errors import (
    AccessDenied,
    InvalidQuery,
    StoreCorrupted,
)
from repositories.jsonstore import atomic, files
from repositories.jsonstore.check import CheckReport, TableReport, check
from repositories.jsonstore.repository import JsonRepository
from repositories.jsonstore.store import Store

__all__ = ["CheckReport", "JsonDatabase", "JsonRepository", "TableReport", "check"]

T = TypeVar("T", bound=Record)
Durability = Literal["full", "none"]


def store_path(url: str) -> Path:
    """The directory of a ``jsonfile://<dir>`` URL (relative paths are kept relative)."""
    prefix = "jsonfile://"
    if not isinstance(url, str) or not url.lower().startswith(prefix):
        raise InvalidQuery(f"not a jsonfile URL: {url!r}")
    rest = url[len(prefix) :]
    if not rest or "\x00" in rest:
        raise InvalidQuery(f"jsonfile URL {url!r} names no directory (jsonfile://<dir>)")
    return Path(rest)


class JsonDatabase(DatabaseBase):
    """A `Database` in a directory of JSON files (``jsonfile://<dir>``).

    Args:
        url: ``jsonfile://<dir>``; the directory is created on the first write.
        context: who is calling (default `Context.system()`).
        durability: ``"full"`` (fsync files and directories: an acknowledged write
            survives a crash) or ``"none"`` (atomic but not synced: tests, bulk loads).
        lock_timeout: seconds to wait for a table lock before `LockTimeout`.
    """

    def __init__(
        self,
        url: str,
        context: Context | None = None,
        *,
        durability: Durability = "full",
        lock_timeout: float = 10.0,
        _core: Store | None = None,
    ) -> None:
        super().__init__(url, context or Context.system())
        if _core is None:
            if durability not in ("full", "none"):
                raise InvalidQuery(f"durability must be 'full' or 'none', not {durability!r}")
            if not isinstance(lock_timeout, int | float) or lock_timeout < 0:
                raise InvalidQuery(f"lock_timeout must be seconds >= 0, not {lock_timeout!r}")
            _core = Store(store_path(url), durability == "full", float(lock_timeout))
        self._core = _core

    @property
    def path(self) -> Path:
        """The store's directory."""
        return self._core.root

    def _make_repository(self, model: type[T]) -> JsonRepository[T]:
        return JsonRepository(model, self, self._core)

    def repository(self, model: type[T]) -> JsonRepository[T]:
        return super().repository(model)  # type: ignore[return-value]

    def with_context(self, context: Context, refresh: bool = False) -> JsonDatabase:
        """The same store (cache, locks) as another caller; `refresh` drops the cache."""
        if refresh:
            self.clear_cache()
        return self._core.contexts.get(  # type: ignore[no-any-return]
            context, lambda ctx: JsonDatabase(self.url, ctx, _core=self._core)
        )

    def clear_cache(self) -> None:
        """Forget every cached table (the next call reloads it from disk)."""
        for state in self._core.tables():
            state.forget()

    def transaction(self, *models: type[Record]) -> contextlib.AbstractContextManager[None]:
        """All or nothing: files changed in a block that raises are put back.

        Args:
            *models: tables to lock up front (in name order); others are locked when
                first touched.
        """
        states = [self._core.state(model_info(m)) for m in models]
        return self._core.transaction(states)

    def ensure_schema(self, *models: type[Record]) -> None:
        """Create the store directory and each model's table directory and metadata."""
        try:
            self._core.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreCorrupted(f"{self._core.root}: cannot create the store: {exc}") from exc
        for model in models:
            self._core.state(model_info(model)).ensure_created()

    # --- _system.json -----------------------------------------------------------------

    @property
    def _system_path(self) -> Path:
        return self._core.root / files.SYSTEM

    def _read_system(self) -> dict[str, Any]:
        try:
            data = files.read_json(self._system_path)
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise StoreCorrupted(f"{self._system_path}: corrupted file (not a JSON object)")
        return data

    def initial_id(self, model: type[Record]) -> str | None:
        entry = self._read_system().get(files.validate_table_name(model_info(model).table))
        if isinstance(entry, dict):  # tolerate {"initialId": ...} entries
            entry = entry.get("initialId", entry.get("initial_id"))
        return entry if isinstance(entry, str) else None

    def set_initial_id(self, model: type[Record], record_id: str) -> None:
        if not self.context.is_sysadmin:
            raise AccessDenied("only a sysadmin context may set initial ids")
        if not isinstance(record_id, str) or not record_id or "\x00" in record_id:
            raise InvalidQuery(f"bad initial id {record_id!r}")
        table = files.validate_table_name(model_info(model).table)
        with self._core.system_lock:
            data = self._read_system()
            data[table] = record_id
            encoded = files.encode(data, "_system")
            atomic.write_atomic(self._system_path, encoded, self._core.durable)

    def close(self) -> None:
        """Fold journals into ``_metadata.json``, close lock and journal files.

        After a clean close each ``_metadata.json`` lists every record by itself. A table
        another process holds at that moment is left as it is (its journal stays valid).
        The cache stays; files reopen on use.
        """
        self._core.close()
