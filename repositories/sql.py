"""The SQL backend: PostgreSQL (production) and SQLite, on SQLAlchemy 2.x Core.

Lookups compile to SQL (``contains`` to ``@>`` on PostgreSQL; on SQLite to a
deterministic function registered on every connection that runs the same Python
`jsonb_contains` the JSON store uses). ``create_many`` writes one statement per batch
(``COPY`` on PostgreSQL). Connections, transactions and the translation of driver errors
live in `repositories.sqlcore`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import operator
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Double,
    Engine,
    MetaData,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    false,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB

from models.base import Record
from models.schema import model_info
from models.tables import metadata_for
from repositories import sqlcopy
from repositories.base import MODIFIED_AT_STEP, DatabaseBase, RepositoryBase
from repositories.context import Context
from repositories.errors import (
    AccessDenied,
    DuplicateRecord,
    InvalidQuery,
    StoreCorrupted,
)
from repositories.lookups import Condition, Query
from repositories.sqlcore import CONTAINS_FN, SqlCore, translate, translate_unicode

__all__ = ["SqlDatabase", "SqlRepository"]

T = TypeVar("T", bound=Record)


_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "ne": lambda c, v: c.is_distinct_from(v),
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
_NO_PARAM = object()
_STATEMENT_CACHE_SIZE = 512


class SqlRepository(RepositoryBase[T]):
    """`Repository` on one SQL table.

    Statements are built once per query *shape* (fields, ops, ordering, paging) with
    named bind parameters and cached; only the values change between calls. On
    PostgreSQL, ``find``/``get`` run the cached SQL text on the driver cursor and let
    PostgreSQL render each row as JSON (``row_to_json``) that pydantic-core validates in
    one pass, which is what keeps validated reads close to raw ``fetchall``.
    """

    def __init__(self, model: type[T], database: SqlDatabase) -> None:
        super().__init__(model, database)
        self._core = database._core
        self.table = self._core.table(model)
        self._columns = {c.name: c for c in self.table.columns}
        self._keys = [c.name for c in self.table.columns]
        self._datetimes = [f.storage for f in self.info.fields if f.kind == "datetime"]
        self._json_columns = {f.storage for f in self.info.fields if f.kind == "json"}
        self._postgres = self._core.dialect == "postgresql"
        self._statements: dict[tuple[Any, ...], Any] = {}
        self._get_sql: str | None = None
        self._get_params: dict[str, Any] = {}
        self._get_names: list[str] = []  # SELECT * column order, learnt on first use
        self._list_adapter: TypeAdapter[list[T]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        if self._core.create_tables and self.table.name not in self._core.ensured:
            self._core.ensure_tables([model])

    # --- compilation ------------------------------------------------------------------

    @staticmethod
    def _bind(cond: Condition) -> tuple[Any, Any]:
        """The bind value of one condition (or _NO_PARAM) and its part of the cache key."""
        op, value = cond.op, cond.value
        if op == "isnull":
            return _NO_PARAM, (op, value)
        if op == "in":
            present = [v for v in value if v is not None]
            return (present if present else _NO_PARAM), (op, bool(present), None in value)
        if op == "contains":
            return json.dumps(value, ensure_ascii=False, separators=(",", ":")), op
        return value, op

    def _clause(self, cond: Condition, name: str) -> ColumnElement[bool]:
        """The SQL clause of one condition, bound to the parameter `name`."""
        col = self._columns[cond.field.storage]
        op, value = cond.op, cond.value
        if op in _COMPARISONS:
            return _COMPARISONS[op](col, bindparam(name, type_=col.type))
        if op == "isnull":
            return col.is_(None) if value else col.is_not(None)
        if op == "in":
            clause: ColumnElement[bool] = false()
            if any(v is not None for v in value):
                if self._postgres:
                    clause = col == any_(bindparam(name, type_=ARRAY(col.type)))
                else:
                    clause = col.in_(bindparam(name, expanding=True))
            return or_(clause, col.is_(None)) if None in value else clause
        document = bindparam(name, type_=Text())
        if self._postgres:
            return col.op("@>", return_type=Boolean)(cast(document, JSONB))
        return func.coalesce(getattr(func, CONTAINS_FN)(col, document), 0) == 1

    def _compile_where(
        self, conditions: Sequence[Condition]
    ) -> tuple[Callable[[], list[ColumnElement[bool]]], dict[str, Any], tuple[Any, ...]]:
        """Parameters and cache key now; the clauses only when a statement is built."""
        params, shape = {}, []
        for index, cond in enumerate(conditions):
            value, key = self._bind(cond)
            shape.append((cond.field.storage, key))
            if value is not _NO_PARAM:
                params[f"p{index}"] = value

        def clauses() -> list[ColumnElement[bool]]:
            return [self._clause(c, f"p{i}") for i, c in enumerate(conditions)]

        return clauses, params, tuple(shape)

    def _cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        statement = self._statements.get(key)
        if statement is None:
            if len(self._statements) >= _STATEMENT_CACHE_SIZE:
                self._statements.clear()
            statement = self._statements[key] = build()
        return statement

    def _select(self, query: Query, as_json: bool = False) -> tuple[Any, dict[str, Any]]:
        """The cached SELECT for this shape and its parameters.

        With `as_json`, each row comes back as one JSON text (PostgreSQL's
        ``row_to_json`` of the whole row, keyed by the column = storage names).
        """
        orders, limit, offset = query.orders, query.limit, query.offset
        clauses, params, shape = self._compile_where(query.conditions)
        order_key = tuple((o.field.storage, o.descending) for o in orders)
        key = ("select", as_json, shape, order_key, limit is not None, bool(offset))

        def ordered(stmt: Any, columns: Any) -> Any:
            for order in orders:
                col = columns[order.field.storage]
                stmt = stmt.order_by((col.desc() if order.descending else col.asc()).nulls_last())
            return stmt

        def build() -> Any:
            stmt: Any = select(self.table)
            if as_json and limit is None:  # every matching row is rendered anyway
                whole_row: Any = literal_column(self._core.quote(self.table.name))
                stmt = select(cast(func.row_to_json(whole_row), Text)).select_from(self.table)
            where = clauses()
            if where:
                stmt = stmt.where(*where)
            stmt = ordered(stmt, self._columns)
            if limit is not None:
                stmt = stmt.limit(bindparam("page_limit", type_=BigInteger()))
            if offset:
                stmt = stmt.offset(bindparam("page_offset", type_=BigInteger()))
            if as_json and limit is not None:
                # a page: render JSON above the LIMIT, only for the rows returned (in the
                # scan it was every candidate, and its narrow width estimate steered the
                # planner to a sequential scan and an external sort for deep offsets)
                page = stmt.subquery("page")
                rendered = cast(func.row_to_json(literal_column("page")), Text)
                stmt = ordered(select(rendered).select_from(page), page.c)
            return stmt

        if limit is not None:
            params["page_limit"] = limit
        if offset:
            params["page_offset"] = offset
        return self._cached(key, build), params

    def _compiled(self, stmt: Any) -> tuple[str, dict[str, Any]]:
        """SQL text for the driver cursor, and the values of its constant parameters."""
        compiled = stmt.compile(self._core.engine)
        constants = {k: v for k, v in compiled.params.items() if v is not None}
        return str(compiled), constants

    def _rows(self, result: Any, part: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        keys = list(result.keys())
        rows = [dict(zip(keys, r, strict=True)) for r in (result if part is None else part)]
        if self._datetimes and not self._postgres:
            for row in rows:
                for key in self._datetimes:
                    value = row[key]
                    if value is not None and value.tzinfo is None:
                        row[key] = value.replace(tzinfo=dt.UTC)
        return rows

    def _params(self, row: dict[str, Any]) -> dict[str, Any]:
        if not self._datetimes:
            return row
        out = dict(row)
        for key in self._datetimes:
            if isinstance(out.get(key), str):
                out[key] = dt.datetime.fromisoformat(out[key])
        return out

    # --- primitives -------------------------------------------------------------------

    def _insert_rows(self, rows: list[dict[str, Any]]) -> None:
        def work(conn: Connection) -> None:
            if self._postgres and len(rows) > 1:
                sqlcopy.copy_rows(conn, self.table, rows)  # takes the core's rows as they are
            else:
                conn.execute(self.table.insert(), [self._params(r) for r in rows])

        try:
            self._core.run(self.info.table, work, write="create")
        except DuplicateRecord as exc:
            raise DuplicateRecord(
                self.info.table, rows[0]["id"] if len(rows) == 1 else None
            ) from exc

    def _select_rows(self, query: Query) -> list[dict[str, Any]]:
        stmt, params = self._select(query)
        return self._core.run(self.info.table, lambda conn: self._rows(conn.execute(stmt, params)))

    def _select_models(self, query: Query) -> list[T]:
        if not self._postgres:
            return super()._select_models(query)
        # Many rows: PostgreSQL renders JSON that pydantic-core parses and validates in
        # one pass. One row (get): plain columns are cheaper than JSON on both ends.
        as_json = query.limit != 1
        first = query.conditions[0] if query.conditions else None
        if first is not None and first.field.name == "id" and first.op == "eq" and not query.offset:
            # the primary key matches one row at most: no LIMIT to plan
            query = dataclasses.replace(query, limit=None)
        stmt, params = self._select(query, as_json=as_json)
        sql = self._cached(("sql", id(stmt)), lambda: str(stmt.compile(self._core.engine)))
        validate, keys = self.model.model_validate, self._keys
        validate_rows = self._list_adapter.validate_json

        def work(conn: Connection) -> list[T]:
            models: list[T] = []

            def consume(chunk: list[tuple[Any, ...]]) -> None:
                # chunk by chunk: no chunk's text outlives its models' validation
                if as_json:
                    models.extend(validate_rows("[" + ",".join([r[0] for r in chunk]) + "]"))
                else:
                    models.extend(validate(dict(zip(keys, r, strict=True))) for r in chunk)

            sqlcopy.fetch_each(conn, sql, params, consume)
            return models

        try:
            return self._core.run(self.info.table, work)
        except ValidationError as exc:
            raise StoreCorrupted(f"{self.info.table}: stored rows do not validate: {exc}") from exc

    def get(self, record_id: str) -> T | None:
        """By primary key. On PostgreSQL: one statement compiled once per repository (its
        scope is fixed by the context), one round trip, one validation."""
        if not self._postgres:
            return super().get(record_id)
        ident = self._by_id(record_id)
        if self._get_sql is None:
            clauses, params, _ = self._compile_where([ident, *self.scope.read])
            stmt: Any = select(literal_column("*")).select_from(self.table).where(*clauses())
            self._get_sql = str(stmt.compile(self._core.engine))
            self._get_params = {k: v for k, v in params.items() if k != "p0"}
        sql, params = self._get_sql, {"p0": record_id, **self._get_params}
        names = self._get_names
        found, rows = self._core.run(
            self.info.table, lambda conn: sqlcopy.fetch(conn, sql, params, not names)
        )
        if not rows:
            return None
        if found:
            names = self._get_names = found
        elif len(rows[0]) != len(names):  # a column was added since: learn the names again
            self._get_names = []
            return self.get(record_id)
        try:
            return self.model.model_validate(dict(zip(names, rows[0], strict=True)))
        except ValidationError as exc:
            raise StoreCorrupted(f"{self.info.table}: stored row does not validate: {exc}") from exc

    def _iter_rows(self, query: Query, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        stmt, params = self._select(query)
        table, options = self.info.table, {"yield_per": batch_size}
        if self._core.in_transaction:
            # each step under a savepoint of its own (`SqlCore.run`), none held across a
            # yield, so the caller's statements between batches nest as they please
            run = self._core.run
            result = run(table, lambda conn: conn.execute(stmt, params, execution_options=options))
            parts = result.partitions()
            while (part := run(table, lambda _: next(parts, None))) is not None:
                yield self._rows(result, part)
            return
        try:
            with self._core.stream_connection() as conn:
                result = conn.execute(stmt, params, execution_options=options)
                for part in result.partitions():
                    yield self._rows(result, part)
        except sa_exc.DBAPIError as exc:
            raise translate(exc, table) from exc
        except UnicodeError as exc:
            raise translate_unicode(exc, table) from exc

    def _count_rows(self, conditions: Sequence[Condition]) -> int:
        clauses, params, shape = self._compile_where(conditions)

        def build() -> Any:
            stmt = select(func.count()).select_from(self.table)
            where = clauses()
            return stmt.where(*where) if where else stmt

        stmt = self._cached(("count", shape), build)
        return int(
            self._core.run(self.info.table, lambda conn: conn.execute(stmt, params).scalar_one())
        )

    def _update_row(
        self,
        record_id: str,
        conditions: Sequence[Condition],
        values: dict[str, Any],
        now: float,
    ) -> dict[str, Any] | None:
        clauses, params, shape = self._compile_where(conditions)
        names = tuple(sorted(values))

        def build() -> Any:
            modified = self._columns["_modifiedAt"]
            bump = func.coalesce(modified, 0.0) + MODIFIED_AT_STEP
            now_param: Any = bindparam("now", type_=Double())
            newest = func.greatest(now_param, bump) if self._postgres else func.max(now_param, bump)
            assignments = {n: bindparam(f"v_{n}", type_=self._columns[n].type) for n in names}
            return (
                update(self.table)
                .where(*clauses())
                .values(**assignments, _modifiedAt=newest)
                .returning(*self.table.columns)
            )

        stmt = self._cached(("update", shape, names), build)
        params["now"] = now
        if not self._postgres:
            params.update({f"v_{n}": v for n, v in self._params(values).items()})

            def work(conn: Connection) -> dict[str, Any] | None:
                rows = self._rows(conn.execute(stmt, params))
                return rows[0] if rows else None

            return self._core.run(self.info.table, work, write="update")
        # PostgreSQL: the compiled text on the driver cursor, as for get (SQLAlchemy's
        # execute costs more than the round trip); JSON values go as JSON text
        json_columns = self._json_columns
        for name, value in values.items():
            encoded = value is not None and name in json_columns
            params[f"v_{name}"] = to_json(value).decode() if encoded else value
        sql, constants = self._cached(("sql", id(stmt)), lambda: self._compiled(stmt))
        params.update(constants)
        _, rows = self._core.run(
            self.info.table, lambda conn: sqlcopy.fetch(conn, sql, params, False), write="update"
        )
        return dict(zip(self._keys, rows[0], strict=True)) if rows else None

    def _delete_rows(self, conditions: Sequence[Condition]) -> int:
        clauses, params, shape = self._compile_where(conditions)

        def build() -> Any:
            stmt = delete(self.table)
            where = clauses()
            return stmt.where(*where) if where else stmt

        stmt = self._cached(("delete", shape), build)
        return int(
            self._core.run(
                self.info.table, lambda conn: conn.execute(stmt, params).rowcount, write="delete"
            )
        )


class SqlDatabase(DatabaseBase):
    """A `Database` on PostgreSQL or SQLite."""

    def __init__(
        self,
        url: str,
        context: Context | None = None,
        *,
        create_tables: bool | None = None,
        pool_size: int = 5,
        _core: SqlCore | None = None,
    ) -> None:
        super().__init__(url, context or Context.system())
        self._core = _core or SqlCore(url, create_tables, pool_size)

    @property
    def engine(self) -> Engine:
        return self._core.engine

    @property
    def dialect(self) -> str:
        return self._core.dialect

    def _make_repository(self, model: type[T]) -> SqlRepository[T]:
        return SqlRepository(model, self)

    def repository(self, model: type[T]) -> SqlRepository[T]:
        return super().repository(model)  # type: ignore[return-value]

    def with_context(self, context: Context) -> SqlDatabase:
        """The same engine, pool and statement caches as another caller (cached)."""
        return self._core.contexts.get(
            context, lambda ctx: SqlDatabase(self.url, ctx, _core=self._core)
        )

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._core.transaction()

    @property
    def in_transaction(self) -> bool:
        return self._core.in_transaction

    def ensure_schema(self, *models: type[Record]) -> None:
        try:
            self._core.ensure_tables(models)
        except sa_exc.DBAPIError as exc:
            raise translate(exc, "ensure_schema") from exc

    def metadata(self, *models: type[Record]) -> MetaData:
        return metadata_for(models)

    def initial_id(self, model: type[Record]) -> str | None:
        name = model_info(model).table
        system = self._core.system
        self._ensure_system()
        stmt = select(system.c.initial_id).where(system.c.table_name == name)
        return self._core.run("_system", lambda conn: conn.execute(stmt).scalar_one_or_none())

    def set_initial_id(self, model: type[Record], record_id: str) -> None:
        if not self.context.is_sysadmin:
            raise AccessDenied("only a sysadmin context may set initial ids")
        if not isinstance(record_id, str) or not record_id or "\x00" in record_id:
            raise InvalidQuery(f"bad initial id {record_id!r}")
        name = model_info(model).table
        system = self._core.system
        now = time.time()
        if self._core.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(system).values(
            table_name=name, initial_id=record_id, _createdAt=now, _modifiedAt=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[system.c.table_name],
            set_={"initial_id": record_id, "_modifiedAt": now},
        )
        self._ensure_system()
        self._core.run("_system", lambda conn: conn.execute(stmt))

    def _ensure_system(self) -> None:
        if self._core.create_tables and "_system" not in self._core.ensured:
            self.ensure_schema()

    def close(self) -> None:
        self._core.dispose()
