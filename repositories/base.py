"""The shared core of every backend (the contract itself is `repositories.contract`).

`RepositoryBase` carries everything that must behave identically on every backend:
validation of input, audit stamping, access scoping, the lookup language and the error
rules. A backend supplies a handful of storage primitives (`_insert_rows`, `_select_rows`,
`_update_row`, ...) over rows keyed by storage names.
"""

from __future__ import annotations

import abc
import collections
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from models.base import Record
from models.schema import ModelInfo, model_info
from repositories.access import Scope, scope_for
from repositories.context import Context
from repositories.contract import OrderBy, Where
from repositories.errors import (
    AccessDenied,
    ConcurrentModification,
    DuplicateRecord,
    InvalidQuery,
    OutcomeUnknown,
    RecordNotFound,
    StoreCorrupted,
    TransactionLost,
)
from repositories.keyset import MAX_PAGE, Keyset, Page, decode_token, encode_token, fingerprint
from repositories.lookups import Condition, Query, parse_order, parse_where
from repositories.outcomes import again_if_lost, settle_delete, settle_insert, settle_update
from repositories.rows import RowRules
from repositories.urls import redact_url
from repositories.values import check_count, check_finite, check_text, short

__all__ = ["ContextCache", "DatabaseBase", "RepositoryBase"]

T = TypeVar("T", bound=Record)
_AUDIT_STORAGE = ("_createdAt", "_createdBy", "_modifiedAt", "_modifiedBy")
#: `_modifiedAt` grows by at least this much per update, so equal clocks hide no change.
MODIFIED_AT_STEP = 1e-6


D = TypeVar("D")  # a database view: sync (DatabaseBase) or async


class ContextCache(Generic[D]):
    """The databases of one store seen by different contexts (``with_context``).

    Shared by every view of a store, so asking twice for a context gives the same cheap
    view (the original component's per-user interface instances).
    """

    _LIMIT = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: dict[Context, D] = {}

    def get(self, context: Context, make: Callable[[Context], D]) -> D:
        with self._lock:
            view = self._views.get(context)
            if view is None:
                if len(self._views) >= self._LIMIT:
                    self._views.clear()  # a bound, not an LRU: views are cheap to remake
                view = self._views[context] = make(context)
            return view


class DatabaseBase(abc.ABC):
    """Shared parts of a `Database`: the context and the per-model repository cache."""

    url: str
    context: Context

    def __init__(self, url: str, context: Context) -> None:
        self.url = url
        self.context = context
        self._repositories: dict[type[Record], RepositoryBase[Any]] = {}

    def repository(self, model: type[T]) -> RepositoryBase[T]:
        repo = self._repositories.get(model)
        if repo is None:
            if not (isinstance(model, type) and issubclass(model, Record)):
                raise InvalidQuery(f"{model!r} is not a Record model")
            repo = self._make_repository(model)
            self._repositories[model] = repo
        return repo

    @abc.abstractmethod
    def _make_repository(self, model: type[T]) -> RepositoryBase[T]: ...

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[None]: ...

    @property
    def in_transaction(self) -> bool:
        """Whether this thread is inside `transaction()` (where a lost connection loses
        the caller's whole block, so the core never re-runs a part of it)."""
        return False

    def __enter__(self) -> DatabaseBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact_url(self.url)} as {self.context.user_id}>"


def _problems(exc: ValidationError) -> str:
    """A validation error's problems on one line: ``field: message; …``."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors()
    )


class RepositoryBase(Generic[T], abc.ABC):
    """The contract's semantics on top of a backend's storage primitives."""

    #: Whether `_insert_rows` takes a JSON field as its text (``bytes``, as
    #: `RowRules.dump_many_json_text` may give it) as well as the document itself.
    _json_text = False

    def __init__(self, model: type[T], database: DatabaseBase) -> None:
        self.model = model
        self.info: ModelInfo = model_info(model)
        self.database = database
        self.scope: Scope = scope_for(self.info, database.context)
        self._id_spec = self.info.by_name["id"]
        self._modified_spec = self.info.by_name["modified_at"]
        self.rows = RowRules(self.info)
        self._datetime_fields = [f for f in self.info.fields if f.kind == "datetime"]

    # --- backend primitives -----------------------------------------------------------

    @abc.abstractmethod
    def _insert_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert new rows atomically; `DuplicateRecord` if an id exists."""

    @abc.abstractmethod
    def _select_rows(self, query: Query) -> list[dict[str, Any]]:
        """The rows matching `query`, ordered and paged (mutable copies)."""

    @abc.abstractmethod
    def _iter_rows(self, query: Query, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        """The rows matching `query` (no limit or offset) in batches of `batch_size`."""

    @abc.abstractmethod
    def _count_rows(self, conditions: Sequence[Condition]) -> int: ...

    def _select_models(self, query: Query) -> list[T]:
        """`_select_rows` as validated models; a backend may override it with a faster path."""
        return [self._load(r) for r in self._select_rows(query)]

    def _select_page(self, query: Query, position: Keyset) -> list[T]:
        """A keyset page: `query` holds `position` as its last condition (op ``after``).

        Every backend evaluates that condition like any other; SQL overrides this to
        compile the position's segments into index-friendly statements.
        """
        return self._select_models(query)

    @abc.abstractmethod
    def _update_row(
        self,
        record_id: str,
        conditions: Sequence[Condition],
        values: dict[str, Any],
        now: float,
    ) -> dict[str, Any] | None:
        """Compare-and-set: apply `values` to the row `record_id` if it meets `conditions`.

        Sets ``_modifiedAt`` to ``max(now, old + MODIFIED_AT_STEP)`` in the same step and
        returns the new row, or None when no row matched.
        """

    def _update_record(
        self,
        record_id: str,
        conditions: Sequence[Condition],
        values: dict[str, Any],
        now: float,
    ) -> T | None:
        """`_update_row` as a validated model; a backend may override it with a faster
        path (the same statement, its row validated straight from what the driver read)."""
        row = self._update_row(record_id, conditions, values, now)
        return None if row is None else self._load(row)

    @abc.abstractmethod
    def _delete_rows(self, conditions: Sequence[Condition]) -> int: ...

    # --- helpers ----------------------------------------------------------------------

    def _where(self, where: Where, write: bool = False) -> tuple[Condition, ...]:
        scope = self.scope.write if write else self.scope.read
        return (*parse_where(self.info, where), *scope)

    def _id_query(self, record_id: str) -> Query:
        """The record `record_id` if the context may read it (at most one row)."""
        return Query((self._by_id(record_id), *self.scope.read), limit=1)

    def _by_id(self, record_id: str) -> Condition:
        if not isinstance(record_id, str) or not record_id:
            raise InvalidQuery(
                f"{self.info.table}: record id must be a non-empty string, not {short(record_id)}"
            )
        check_text(record_id, f"{self.info.table}: record id")
        return Condition(self._id_spec, "eq", record_id)

    def _expected(self, expected_modified_at: float | None) -> tuple[Condition, ...]:
        """The compare-and-set condition on `_modifiedAt`, if one was asked for."""
        if expected_modified_at is None:
            return ()
        if isinstance(expected_modified_at, bool) or not isinstance(
            expected_modified_at, int | float
        ):
            raise InvalidQuery(
                f"{self.info.table}: expected_modified_at must be a number, "
                f"not {short(expected_modified_at)}"
            )
        expected = float(expected_modified_at)
        check_finite(expected, f"{self.info.table}: expected_modified_at")
        return (Condition(self._modified_spec, "eq", expected),)

    def _load(self, row: Mapping[str, Any]) -> T:
        try:
            return self.model.model_validate(row)
        except ValidationError as exc:
            raise self._unreadable(row.get("id"), exc) from exc

    def _unreadable(self, record_id: Any, exc: ValidationError) -> StoreCorrupted:
        """The error for a stored record that does not validate."""
        return StoreCorrupted(
            f"{self.info.table}: stored record {record_id!r} does not validate: {exc}"
        )

    def _new_rows(self, objs: Sequence[T], now: float) -> list[dict[str, Any]]:
        """New records as checked rows, mandate and audit fields stamped (JSON fields
        maybe as their text where the backend takes it: `_json_text`)."""
        rules = self.rows
        rows = rules.dump_many_json_text(objs) if self._json_text else rules.dump_many(objs)
        self.scope.stamp_mandates(rows)
        user = self.database.context.user_id
        stamps = {"_createdAt": now, "_modifiedAt": now, "_createdBy": user, "_modifiedBy": user}
        for row in rows:
            row.update(stamps)
        return rows

    def _dump(self, obj: T) -> dict[str, Any]:
        """A validated model as a checked storage row (datetimes in UTC)."""
        return self.rows.dump(obj)

    def _changes(self, record_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        values = self.rows.changes(record_id, changes)
        self.scope.check_changes(values)
        values["_modifiedBy"] = self.database.context.user_id
        return values

    @staticmethod
    def _check_page(limit: int | None, offset: int) -> None:
        if limit is not None:
            check_count("limit", limit)
        check_count("offset", offset)

    def _explain_miss(self, record_id: str, expected: float | None) -> Exception:
        """Why a compare-and-set matched nothing: absent, not allowed or changed."""
        ident = self._by_id(record_id)
        visible = self._select_rows(self._id_query(record_id))
        if not visible:
            return RecordNotFound(self.info.table, record_id)
        writable = self._count_rows([ident, *self.scope.write])
        if not writable:
            return AccessDenied(
                f"{self.info.table}: {self.database.context.user_id!r} may not change "
                f"record {record_id!r} (a user changes only records it created)"
            )
        return ConcurrentModification(self.info.table, record_id, expected)

    # --- the contract -----------------------------------------------------------------

    def _stored(self, obj: T, row: dict[str, Any]) -> T:
        """`obj` as stored: stamped in place and returned.

        No copy: the caller's object is the record (a bulk create of thousands would
        otherwise allocate each record twice, and the garbage collector would scan both).
        Only the stamped fields change (datetimes to their UTC form); a frozen model is
        copied instead.
        """
        return self._stamped(obj, self._stamps(row))

    def _stamps(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The fields `_stored` sets from a stored row, by field name."""
        update: dict[str, Any] = {
            "created_at": row["_createdAt"],
            "created_by": row["_createdBy"],
            "modified_at": row["_modifiedAt"],
            "modified_by": row["_modifiedBy"],
        }
        tenant = self.info.tenant
        if tenant is not None:
            update[tenant.name] = row[tenant.storage]
        for spec in self._datetime_fields:
            stored = row[spec.storage]
            update[spec.name] = None if stored is None else dt.datetime.fromisoformat(stored)
        return update

    def _stamped(self, obj: T, update: dict[str, Any]) -> T:
        if self.model.model_config.get("frozen"):
            return obj.model_copy(update=update)
        obj.__dict__.update(update)
        obj.__pydantic_fields_set__.update(update)
        return obj

    def create(self, obj: T) -> T:
        rows = self._new_rows([obj], time.time())
        try:
            self._insert_rows(rows)
        except OutcomeUnknown:
            settle_insert(self, rows, "create", lambda: self._insert_rows(rows))
        return self._stored(obj, rows[0])

    def create_many(self, objs: Iterable[T], batch_size: int = 1000) -> list[T]:
        check_count("batch_size", batch_size, 1)
        objs = list(objs)
        rows = self._create_rows(objs, time.time(), batch_size)
        return self._stored_many(objs, rows)

    def _stored_many(self, objs: list[T], rows: list[dict[str, Any]]) -> list[T]:
        """`_stored` of each; one set of stamps for all (one time, one user: `_new_rows`)
        when no stamped field differs from row to row."""
        if not rows or self.info.tenant is not None or self._datetime_fields:
            return [self._stored(obj, row) for obj, row in zip(objs, rows, strict=True)]
        update = self._stamps(rows[0])
        return [self._stamped(obj, update) for obj in objs]

    def _create_rows(self, objs: list[T], now: float, batch_size: int) -> list[dict[str, Any]]:
        """The work of `create_many`: every row dumped and checked, then inserted
        (`_insert_many`), a dropped connection settled; the rows as stored."""
        rows = self._new_rows(objs, now)
        self._check_unique(rows)
        if rows:
            insert = functools.partial(self._insert_many, rows, batch_size)
            try:
                again_if_lost(self, insert)
            except OutcomeUnknown:
                settle_insert(self, rows, "create_many", insert)
        return rows

    def _check_unique(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """`DuplicateRecord` for an id that repeats within `rows`."""
        ids = [r["id"] for r in rows]
        if len(set(ids)) != len(ids):
            counts = collections.Counter(ids)
            dup = next(i for i in ids if counts[i] > 1)
            raise DuplicateRecord(self.info.table, dup)

    def _insert_many(self, rows: list[dict[str, Any]], batch_size: int) -> None:
        with self.database.transaction():
            for start in range(0, len(rows), batch_size):
                self._insert_rows(rows[start : start + batch_size])

    def import_rows(
        self,
        rows: Iterable[Mapping[str, Any] | T],
        batch_size: int = 1000,
        skip_existing: bool = True,
    ) -> int:
        """Bulk-write stored rows as they are, ids and audit fields kept (system only).

        For copying one backend into another (``connectors db copy``). Each row (a
        mapping of storage names, or an instance of the model, e.g. read from another
        backend) is validated against the model; one transaction per batch, written with the
        backend's bulk path (``COPY`` on PostgreSQL). With `skip_existing`, ids already
        present are left alone, so an interrupted import can simply be run again.

        Returns:
            The number of rows written.

        Raises:
            AccessDenied: the context is not `Context.system()` (audit fields and
                mandates are taken from the rows, so no tenant context may do this).
            InvalidQuery: a row does not validate.
            DuplicateRecord: an id repeats (in the input, or present and not skipped).
        """
        if self.database.context != Context.system():
            raise AccessDenied(
                f"{self.info.table}: only Context.system() may import rows "
                "(they keep their own audit fields and mandates)"
            )
        check_count("batch_size", batch_size, 1)
        # dumped and checked a batch at a time (the checks run column-wise), JSON fields
        # straight to their text where the backend takes it, as `create_many` does
        dump = self.rows.dump_many_json_text if self._json_text else self.rows.dump_many
        written = 0
        batch: list[T] = []
        for row in rows:
            batch.append(self._import_model(row))
            if len(batch) >= batch_size:
                written += self._import_batch(dump(batch), skip_existing)
                batch = []
        if batch:
            written += self._import_batch(dump(batch), skip_existing)
        return written

    def _import_model(self, row: Mapping[str, Any] | T) -> T:
        """`row` as a validated model (an instance of it is taken as it is)."""
        if isinstance(row, self.model):
            return row
        if not isinstance(row, Mapping):
            raise InvalidQuery(f"{self.info.table}: cannot import a {type(row).__name__}")
        try:
            obj = self.model.model_validate(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in (self.info.table, *first["loc"]))
            raise InvalidQuery(
                f"{where}: imported record {short(row.get('id'))} does not validate: {first['msg']}"
            ) from exc
        except (ValueError, RecursionError) as exc:  # e.g. a document nested too deeply
            raise InvalidQuery(
                f"{self.info.table}: imported record {short(row.get('id'))} cannot be read: {exc}"
            ) from exc
        return obj

    def _import_batch(self, rows: list[dict[str, Any]], skip_existing: bool) -> int:
        ids = [r["id"] for r in rows]
        if len(set(ids)) != len(ids):
            raise DuplicateRecord(self.info.table, next(i for i in ids if ids.count(i) > 1))
        first: list[str] = []
        if not skip_existing:
            return self._import_once(rows, skip_existing, first)
        try:
            return self._import_once(rows, skip_existing, first)
        except (OutcomeUnknown, TransactionLost):
            if self.database.in_transaction:
                raise
        # the connection dropped: skipping what is there makes running it again safe, and
        # what the first run wrote is what it meant to write and the second finds present
        second: list[str] = []
        self._import_once(rows, skip_existing, second)
        return len(second) + len(set(first) - set(second))

    def _import_once(
        self, rows: list[dict[str, Any]], skip_existing: bool, written: list[str]
    ) -> int:
        with self.database.transaction():
            if skip_existing:
                present = self._select_rows(
                    Query((Condition(self._id_spec, "in", tuple(r["id"] for r in rows)),))
                )
                if present:
                    known = {r["id"] for r in present}
                    rows = [r for r in rows if r["id"] not in known]
            written.extend(r["id"] for r in rows)
            if rows:
                self._insert_rows(rows)
        return len(rows)

    def get(self, record_id: str) -> T | None:
        found = self._select_models(self._id_query(record_id))
        return found[0] if found else None

    def find(
        self,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[T]:
        self._check_page(limit, offset)
        query = Query(self._where(where), tuple(parse_order(self.info, order_by)), limit, offset)
        return self._select_models(query)

    def iter(
        self, where: Where = None, batch_size: int = 1000, order_by: OrderBy = None
    ) -> Iterator[T]:
        for batch in self.batches(where, batch_size, order_by):
            yield from batch

    def batches(
        self, where: Where = None, batch_size: int = 1000, order_by: OrderBy = None
    ) -> Generator[list[T], None, None]:
        """`iter` a batch at a time (the async API steps it once per batch)."""
        check_count("batch_size", batch_size, 1)
        query = Query(self._where(where), tuple(parse_order(self.info, order_by)))
        yield from self._iter_models(query, batch_size)

    def _iter_models(self, query: Query, batch_size: int) -> Iterator[list[T]]:
        """`_iter_rows` as validated models; a backend may override it with a faster path."""
        for batch in self._iter_rows(query, batch_size):
            yield [self._load(r) for r in batch]

    def page(
        self,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[T]:
        """One keyset page: `limit` records after the `after` token (see `repositories.keyset`).

        Costs the same at any depth (``offset`` costs O(offset)); pass ``page.next`` as
        `after` for the following page, None on the last. A token belongs to the query
        (filter, order, scope) that made it.
        """
        check_count("limit", limit, 1)
        if limit > MAX_PAGE:
            raise InvalidQuery(f"limit of a page is at most {MAX_PAGE}, not {limit} (use iter())")
        orders = tuple(parse_order(self.info, order_by))
        conditions = self._where(where)
        bound_to = fingerprint(self.info.table, conditions, orders)
        values = () if after is None else decode_token(after, bound_to, orders)
        position = Keyset(orders, values)
        query = Query((*conditions, position.condition()), orders, limit + 1)
        items = self._select_page(query, position)
        if len(items) <= limit:
            return Page(items, None)
        items = items[:limit]
        return Page(items, encode_token(bound_to, position.values_of(items[-1])))

    def count(self, where: Where = None) -> int:
        return self._count_rows(self._where(where))

    def update(
        self,
        record_id: str,
        changes: Mapping[str, Any],
        expected_modified_at: float | None = None,
    ) -> T:
        cas = self._expected(expected_modified_at)
        conditions = [self._by_id(record_id), *self.scope.write, *cas]
        values = self._changes(record_id, changes)
        if self.rows.whole_record_rules:
            apply = functools.partial(self._apply_update, record_id, conditions, values, cas)
            return again_if_lost(self, lambda: self._checked_update(record_id, apply))
        return self._apply_update(record_id, conditions, values, cas)

    def _apply_update(
        self,
        record_id: str,
        conditions: list[Condition],
        values: dict[str, Any],
        cas: tuple[Condition, ...],
    ) -> T:
        now = time.time()
        expected = cas[0].value if cas else None
        try:
            record = self._update_record(record_id, conditions, values, now)
        except OutcomeUnknown:
            row = settle_update(self, record_id, conditions, values, now, expected)
            record = None if row is None else self._load(row)
        if record is None:
            raise self._explain_miss(record_id, expected)
        return record

    def _checked_update(self, record_id: str, apply: Callable[[], T]) -> T:
        """`apply` (`_apply_update`) for a model with validators of its own: each field's
        change was checked alone, these see the whole record, so the changed record is
        validated before it is kept, and one they refuse is not."""
        with self.database.transaction():
            try:
                return apply()
            except StoreCorrupted as exc:
                cause = exc.__cause__
                reason = _problems(cause) if isinstance(cause, ValidationError) else str(exc)
                raise InvalidQuery(
                    f"{self.info.table}: record {record_id!r} with these changes does not "
                    f"validate: {reason}"
                ) from exc

    def upsert(self, obj: T) -> T:
        return again_if_lost(self, lambda: self._upsert(obj))

    def _upsert(self, obj: T) -> T:
        with self.database.transaction():
            existing = self._select_rows(self._id_query(obj.id))
            if not existing:
                try:
                    return self.create(obj)
                except DuplicateRecord:
                    # created meanwhile by another writer: update it, if this context may
                    # see it at all (another mandate's id stays a duplicate)
                    if not self._select_rows(self._id_query(obj.id)):
                        raise
            data = self._dump(obj)  # checked: a value assigned unvalidated is refused here
            for key in (*_AUDIT_STORAGE, "id"):
                data.pop(key, None)
            return self.update(obj.id, data)

    def delete(self, record_id: str, expected_modified_at: float | None = None) -> bool:
        self.scope.check_delete()
        conditions = [
            self._by_id(record_id),
            *self.scope.write,
            *self._expected(expected_modified_at),
        ]
        started = time.time()
        try:
            deleted = self._delete_rows(conditions)
        except OutcomeUnknown:
            deleted = settle_delete(self, record_id, conditions, started)
        if deleted:
            return True
        error = self._explain_miss(record_id, expected_modified_at)
        if isinstance(error, RecordNotFound):
            return False
        raise error

    def delete_many(self, where: Where) -> int:
        if where is None:
            raise InvalidQuery("delete_many needs a where mapping ({} deletes everything)")
        self.scope.check_delete()
        return self._delete_rows(self._where(where, write=True))
