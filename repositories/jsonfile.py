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

Limits: POSIX only (``fcntl.flock``); a transaction is all-or-nothing when its block
raises, not across a crash (a writer killed mid-transaction leaves the writes it
completed; the next open recovers the metadata, every record file stays intact). The
first open of a directory written by the original application replaces its
``_metadata.json`` with ours (the records are not touched).
"""

from __future__ import annotations

import contextlib
import json
import operator
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from models.base import Record
from models.schema import model_info
from repositories.base import MODIFIED_AT_STEP, DatabaseBase, RepositoryBase
from repositories.context import Context
from repositories.errors import (
    AccessDenied,
    DuplicateRecord,
    InvalidQuery,
    LockTimeout,
    StoreCorrupted,
)
from repositories.jsonstore import files
from repositories.jsonstore.check import CheckReport, TableReport, check
from repositories.jsonstore.store import Store
from repositories.jsonstore.table import TableState, Undo
from repositories.lookups import Condition, Order, matches, sort_rows

__all__ = ["CheckReport", "JsonDatabase", "JsonRepository", "TableReport", "check"]

T = TypeVar("T", bound=Record)
R = TypeVar("R")
Durability = Literal["full", "none"]
Row = dict[str, Any]


_by_id = operator.itemgetter("id")


def _clone(value: dict[str, Any] | list[Any]) -> Any:
    """A deep copy of a JSON container (scalars are immutable and shared)."""
    if isinstance(value, dict):
        return {k: _clone(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    return [_clone(v) if isinstance(v, dict | list) else v for v in value]


def _unshare(value: dict[str, Any] | list[Any]) -> None:
    """Replace the containers held by a fresh container with copies (in place)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                value[key] = _clone(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                value[index] = _clone(item)


def _is_container(annotation: Any) -> bool:
    """Whether a field is typed ``dict[...]`` or ``list[...]`` (optionally Optional)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_container(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_container(args[0])
    return origin in (dict, list)


def store_path(url: str) -> Path:
    """The directory of a ``jsonfile://<dir>`` URL (relative paths are kept relative)."""
    prefix = "jsonfile://"
    if not isinstance(url, str) or not url.lower().startswith(prefix):
        raise InvalidQuery(f"not a jsonfile URL: {url!r}")
    rest = url[len(prefix) :]
    if not rest or "\x00" in rest:
        raise InvalidQuery(f"jsonfile URL {url!r} names no directory (jsonfile://<dir>)")
    return Path(rest)


class JsonRepository(RepositoryBase[T]):
    """`Repository` on one table directory."""

    def __init__(self, model: type[T], database: JsonDatabase) -> None:
        super().__init__(model, database)
        self._core = database._core
        self.state = self._core.state(self.info)
        json_fields = [f for f in self.info.fields if f.kind == "json"]
        self._json_keys = [f.storage for f in json_fields]
        # dict[...]/list[...] fields come out of validation as fresh containers holding the
        # cached row's nested ones: copying just those is enough (and cheaper than a copy
        # of the whole row first); other JSON shapes (Any, nested models) are copied first.
        self._unshare_after = all(_is_container(f.annotation) for f in json_fields)
        self._json_pairs = [(f.name, f.storage) for f in json_fields]

    # --- access -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[TableState]:
        """Lock-free outside a transaction; inside one the table stays locked."""
        state = self.state
        tx = self._core.current()
        if tx is not None:
            self._core.enter(tx, state)
            state.sync()
            yield state
            return
        state.lock.acquire_local()
        try:
            state.sync()
            yield state
        finally:
            state.lock.release_local()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Undo | None]:
        """The table locked, the view current; yields the transaction's undo log, if any."""
        state = self.state
        tx = self._core.current()
        if tx is not None:
            self._core.enter(tx, state)
            state.sync()
            yield tx.undo
            return
        dirty = state.lock.acquire()
        try:
            if dirty:
                state.load_locked(dirty=True)
            state.sync()
            yield None
        finally:
            state.lock.release()

    def _read(self, work: Callable[[], R]) -> R:
        """Run `work` on a current view: lock-free, or locked inside a transaction.

        The hot path of get and find, hence no context manager.
        """
        state = self.state
        tx = self._core.current()
        if tx is not None:
            self._core.enter(tx, state)
            state.sync()
            return work()
        lock = state.lock
        lock.acquire_local()
        try:
            state.sync()
            return work()
        finally:
            lock.release_local()

    def _candidates(self, conditions: Sequence[Condition]) -> tuple[set[str] | None, int]:
        """The smallest id set an index gives, and the position of the condition it answers.

        An index answers an ``eq``/``in``/``isnull=True`` condition exactly (its keys compare
        like the condition does), so that condition needs no second evaluation.
        """
        state = self.state
        best: set[str] | None = None
        used = -1
        for position, cond in enumerate(conditions):
            storage, op = cond.field.storage, cond.op
            found: set[str] | None = None
            if cond.field.name == "id" and op in ("eq", "in"):
                wanted = [cond.value] if op == "eq" else [v for v in cond.value if v is not None]
                found = {rid for rid in wanted if rid in state.ids}
            elif op == "eq":
                found = state.lookup(storage, [cond.value])
            elif op == "in":
                found = state.lookup(storage, cond.value)
            elif op == "isnull" and cond.value:
                found = state.lookup(storage, [None])
            if found is not None and (best is None or len(found) < len(best)):
                best, used = found, position
        return best, used

    def _matching(self, conditions: Sequence[Condition]) -> list[Row]:
        candidates, used = self._candidates(conditions)
        ids = list(self.state.ids if candidates is None else candidates)
        rest = [cond for position, cond in enumerate(conditions) if position != used]
        rows = self.state.rows_of(ids)
        if not rest:
            return rows
        keep = matches(rest)
        return [row for row in rows if keep(row)]

    def _detach(self, row: Row) -> Row:
        """A copy callers may mutate without touching the cache."""
        out = dict(row)
        for key in self._json_keys:
            value = out.get(key)
            if isinstance(value, dict | list) and value:
                out[key] = _clone(value)
        return out

    # --- primitives -------------------------------------------------------------------

    def _insert_rows(self, rows: list[Row]) -> None:
        for row in rows:
            files.validate_record_id(self.info.table, row["id"])
        state = self.state
        tx = self._core.current()
        if tx is None:  # the per-record create: inlined `_writing`, the hottest write path
            dirty = state.lock.acquire()
            try:
                if dirty:
                    state.load_locked(dirty=True)
                state.sync()
                self._insert_checked(rows, None)
            finally:
                state.lock.release()
            return
        with self._writing() as undo:
            self._insert_checked(rows, undo)

    def _insert_checked(self, rows: list[Row], undo: Undo | None) -> None:
        for row in rows:
            if row["id"] in self.state.ids:
                raise DuplicateRecord(self.info.table, row["id"])
        self.state.write_rows(rows, undo, new=True)

    def _insert_many(self, rows: list[Row], batch_size: int) -> None:
        """One lock, one all-or-nothing transaction, one directory fsync per batch."""
        for row in rows:
            files.validate_record_id(self.info.table, row["id"])
        with self._core.transaction([self.state]), self._writing() as undo:
            for row in rows:
                if row["id"] in self.state.ids:
                    raise DuplicateRecord(self.info.table, row["id"])
            for start in range(0, len(rows), batch_size):
                self.state.write_rows(rows[start : start + batch_size], undo, new=True)

    def _select_rows(
        self,
        conditions: Sequence[Condition],
        orders: Sequence[Order],
        limit: int | None,
        offset: int,
    ) -> list[Row]:
        with self._reading():
            rows = self._page(conditions, orders, limit, offset)
        return [self._detach(row) for row in rows]

    def _page(
        self,
        conditions: Sequence[Condition],
        orders: Sequence[Order],
        limit: int | None,
        offset: int,
    ) -> list[Row]:
        rows = self._sorted(self._matching(conditions), orders)
        return rows[offset : None if limit is None else offset + limit]

    @staticmethod
    def _by_id_only(orders: Sequence[Order]) -> bool:
        return len(orders) == 1 and orders[0].field.name == "id" and not orders[0].descending

    @classmethod
    def _sorted(cls, rows: list[Row], orders: Sequence[Order]) -> list[Row]:
        if cls._by_id_only(orders):
            rows.sort(key=_by_id)  # the default order; ids are never null
            return rows
        return sort_rows(rows, orders) if orders else rows

    def _select_models(
        self,
        conditions: Sequence[Condition],
        orders: Sequence[Order],
        limit: int | None,
        offset: int,
    ) -> list[T]:
        """`find`'s fast path: the cached bytes of each row validated into a model.

        Validating JSON builds fresh objects (nothing shared with the cache) and, with the
        bytes compact in memory, beats walking the cached dicts; a row without cached bytes
        is validated from a detached copy of its dict.
        """
        found = self._read(lambda: self._collect(conditions, orders, limit, offset))
        validate_json = self.model.model_validate_json
        try:
            return [
                validate_json(item) if isinstance(item, bytes) else self._model_of(item)
                for item in found
            ]
        except ValidationError as exc:
            for item in found:  # name the bad record if the dict form fails as well
                self._load(json.loads(item) if isinstance(item, bytes) else item)
            raise StoreCorrupted(
                f"{self.info.table}: a stored record does not validate: {exc}"
            ) from exc

    def _collect(
        self,
        conditions: Sequence[Condition],
        orders: Sequence[Order],
        limit: int | None,
        offset: int,
    ) -> list[bytes | Row]:
        """The page's cached bytes (or rows where no bytes are cached), in order."""
        state = self.state
        candidates, used = self._candidates(conditions)
        answered = len(conditions) == (0 if used < 0 else 1)
        if answered and (not orders or self._by_id_only(orders)):
            # the index answered the filter and the order is by id: page over sorted ids;
            # no cached dict is touched unless its bytes are not cached
            ids = sorted(state.ids if candidates is None else candidates)
            ids = ids[offset : None if limit is None else offset + limit]
        else:
            ids = [row["id"] for row in self._page(conditions, orders, limit, offset)]
        found: list[bytes | Row] = []
        for record_id in ids:  # under one lock: bytes and rows of one version
            data = state.raw.get(record_id)
            if data is not None:
                found.append(data)
                continue
            row = state.row(record_id)
            if row is not None:
                found.append(row)
        return found

    def _model_of(self, row: Row) -> T:
        """A model from a cached row, sharing no container with it."""
        if not self._unshare_after:
            return self.model.model_validate(self._detach(row))
        model = self.model.model_validate(row)
        for name, key in self._json_pairs:
            value = model.__dict__.get(name)
            if isinstance(value, dict | list) and value:
                container: dict[str, Any] | list[Any] = value
                if value is row.get(key):  # validation kept the cached container
                    model.__dict__[name] = _clone(container)
                else:
                    _unshare(container)
        return model

    def _iter_rows(
        self, conditions: Sequence[Condition], orders: Sequence[Order], batch_size: int
    ) -> Iterator[list[Row]]:
        rows = self._sorted(self._read(lambda: self._matching(conditions)), orders)
        for start in range(0, len(rows), batch_size):
            yield [self._detach(row) for row in rows[start : start + batch_size]]

    def _count_rows(self, conditions: Sequence[Condition]) -> int:
        with self._reading():
            if not conditions:
                return len(self.state.ids)
            return len(self._matching(conditions))

    def _update_row(
        self,
        record_id: str,
        conditions: Sequence[Condition],
        values: dict[str, Any],
        now: float,
    ) -> Row | None:
        with self._writing() as undo:
            row = self.state.row(record_id)
            if row is None or not matches(conditions)(row):
                return None
            new = {**row, **values}
            old = row.get("_modifiedAt")
            base = float(old) if isinstance(old, int | float) else 0.0
            new["_modifiedAt"] = max(now, base + MODIFIED_AT_STEP)
            self.state.write_rows([new], undo)
            return self._detach(new)

    def _delete_rows(self, conditions: Sequence[Condition]) -> int:
        with self._writing() as undo:
            ids = [row["id"] for row in self._matching(conditions)]
            if ids:
                self.state.delete_rows(ids, undo)
            return len(ids)


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
        return JsonRepository(model, self)

    def repository(self, model: type[T]) -> JsonRepository[T]:
        return super().repository(model)  # type: ignore[return-value]

    def with_context(self, context: Context, refresh: bool = False) -> JsonDatabase:
        """The same store (cache, locks) as another caller; `refresh` drops the cache."""
        if refresh:
            self.clear_cache()
        with self._core.mutex:
            db = self._core.contexts.get(context)
            if db is None:
                if len(self._core.contexts) > 4096:
                    self._core.contexts.clear()
                db = JsonDatabase(self.url, context, _core=self._core)
                self._core.contexts[context] = db
            return db

    def clear_cache(self) -> None:
        """Forget every cached table (the next call reloads it from disk)."""
        with self._core.mutex:
            states = list(self._core.states.values())
        for state in states:
            state.lock.acquire_local()
            try:
                state.loaded = False
            finally:
                state.lock.release_local()

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
            state = self._core.state(model_info(model))
            dirty = state.lock.acquire()
            try:
                if dirty or not state.loaded:
                    state.load_locked(dirty)
                state.sync()
                if state.journal_sig is None:
                    state.write_snapshot()
            finally:
                state.lock.release()

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
        lock = self._core.system_lock
        lock.acquire()
        try:
            data = self._read_system()
            data[table] = record_id
            files.write_atomic(self._system_path, files.encode(data, "_system"), self._core.durable)
        finally:
            lock.release()

    def close(self) -> None:
        """Fold journals into ``_metadata.json``, close lock and journal files.

        After a clean close each ``_metadata.json`` lists every record by itself. A table
        another process holds at that moment is left as it is (its journal stays valid).
        The cache stays; files reopen on use.
        """
        with self._core.mutex:
            states = list(self._core.states.values())
        for state in states:
            if state.lock.held:
                continue
            with contextlib.suppress(LockTimeout):
                state.compact()
            state.close()
        if not self._core.system_lock.held:
            self._core.system_lock.close()
