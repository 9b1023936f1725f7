"""The SQL statements of one table: lookups compiled to SQLAlchemy Core, cached by shape.

A statement is built once per query *shape* (fields, ops, ordering, paging) with named
bind parameters; only the values change between calls. Reads can ask for each row as
one JSON text, rendered by the database (PostgreSQL ``row_to_json``; SQLite
``json_object``, numbers at full precision) so that pydantic-core validates a whole page
in one pass.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Double,
    Engine,
    Table,
    Text,
    any_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from models.schema import ModelInfo
from repositories.base import MODIFIED_AT_STEP
from repositories.lookups import Condition, Query

__all__ = ["Statements"]

_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "ne": lambda c, v: c.is_distinct_from(v),
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
_NO_PARAM = object()
_CACHE_SIZE = 512
#: SQLite passes at most 127 arguments to a function, two per column in json_object.
_SQLITE_JSON_COLUMNS = 60
Where = tuple[Callable[[], list[ColumnElement[bool]]], dict[str, Any], tuple[Any, ...]]


#: The operators whose condition binds its value as it is (`Statements._bind`).
_BOUND_AS_IS = frozenset(_COMPARISONS)


class Statements:
    """Cached statements on `table` for one model, for PostgreSQL or SQLite."""

    def __init__(self, table: Table, info: ModelInfo, engine: Engine, contains_fn: str) -> None:
        self.table = table
        self.info = info
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.columns = {c.name: c for c in table.columns}
        self._contains_fn = contains_fn
        self._cache: dict[tuple[Any, ...], Any] = {}
        kinds = {f.storage: f.kind for f in info.fields}
        self._kinds = [kinds.get(c.name, "json") for c in table.columns]
        self.renders_json = self.postgres or len(self.columns) <= _SQLITE_JSON_COLUMNS

    def cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        statement = self._cache.get(key)
        if statement is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            statement = self._cache[key] = build()
        return statement

    def text(self, stmt: Any) -> tuple[str, dict[str, Any]]:
        """SQL text for the driver cursor and the values of its constant parameters."""

        def build() -> tuple[str, dict[str, Any]]:
            compiled = stmt.compile(self.engine)
            constants = {k: v for k, v in compiled.params.items() if v is not None}
            return str(compiled), constants

        return self.cached(("text", id(stmt)), build)  # type: ignore[no-any-return]

    # --- where clauses -----------------------------------------------------------------

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
        col = self.columns[cond.field.storage]
        op, value = cond.op, cond.value
        if op in _COMPARISONS:
            return _COMPARISONS[op](col, bindparam(name, type_=col.type))
        if op == "isnull":
            return col.is_(None) if value else col.is_not(None)
        if op == "in":
            clause: ColumnElement[bool] = false()
            if any(v is not None for v in value):
                if self.postgres:
                    clause = col == any_(bindparam(name, type_=ARRAY(col.type)))
                else:
                    clause = col.in_(bindparam(name, expanding=True))
            return or_(clause, col.is_(None)) if None in value else clause
        document = bindparam(name, type_=Text())
        if self.postgres:
            return col.op("@>", return_type=Boolean)(cast(document, JSONB))
        return func.coalesce(getattr(func, self._contains_fn)(col, document), 0) == 1

    def where(self, conditions: Sequence[Condition]) -> Where:
        """Parameters and cache key now; the clauses only when a statement is built."""
        params, shape = self.bound(conditions)

        def clauses() -> list[ColumnElement[bool]]:
            return [self._clause(c, f"p{i}") for i, c in enumerate(conditions)]

        return clauses, params, shape

    def bound(self, conditions: Sequence[Condition]) -> tuple[dict[str, Any], tuple[Any, ...]]:
        """The parameters of these conditions and their part of a statement's cache key."""
        params, shape = {}, []
        for index, cond in enumerate(conditions):
            op = cond.op
            if op in _BOUND_AS_IS:  # the common case, without a call
                value, key = cond.value, op
            else:
                value, key = self._bind(cond)
            shape.append((cond.field.storage, key))
            if value is not _NO_PARAM:
                params[f"p{index}"] = value
        return params, tuple(shape)

    # --- statements -------------------------------------------------------------------

    def _row_json(self, source: Any, name: str) -> Any:
        """Each row of `source` (the table, or a subquery named `name`) as JSON text."""
        if self.postgres:
            return cast(func.row_to_json(literal_column(name)), Text)
        parts: list[Any] = []
        for column, kind in zip(self.table.columns, self._kinds, strict=True):
            value = source.c[column.name]
            if kind == "float":  # json_object keeps 15 digits; a double needs 17
                digits = func.json(func.printf("%!.17g", value))
                value = case((value.is_(None), null()), else_=digits)
            elif kind == "json":
                value = func.json(value)
            elif kind == "datetime":  # stored naive, in UTC
                iso = func.replace(value, " ", "T").op("||")(literal("Z"))
                value = case((value.is_(None), null()), else_=iso)
            parts += [literal(column.name), value]
        return func.json_object(*parts)

    def select(self, query: Query, as_json: bool = False) -> tuple[Any, dict[str, Any]]:
        """The SELECT of `query` and its parameters; with `as_json`, one JSON text a row
        (keyed by the column = storage names)."""
        orders, limit, offset = query.orders, query.limit, query.offset
        clauses, params, shape = self.where(query.conditions)
        order_key = tuple((o.field.storage, o.descending) for o in orders)
        key = ("select", as_json, shape, order_key, limit is not None, bool(offset))

        def ordered(stmt: Any, columns: Any) -> Any:
            for order in orders:
                col = columns[order.field.storage]
                stmt = stmt.order_by((col.desc() if order.descending else col.asc()).nulls_last())
            return stmt

        def build() -> Any:
            table = self.table
            stmt: Any = select(table)
            if as_json and limit is None:  # every matching row is rendered anyway
                name = str(self.engine.dialect.identifier_preparer.quote(table.name))
                stmt = select(self._row_json(table, name)).select_from(table)
            where = clauses()
            if where:
                stmt = stmt.where(*where)
            stmt = ordered(stmt, self.columns)
            if limit is not None:
                stmt = stmt.limit(bindparam("page_limit", type_=BigInteger()))
            if offset:
                stmt = stmt.offset(bindparam("page_offset", type_=BigInteger()))
            if as_json and limit is not None:
                # a page: rendered above the LIMIT, only the rows returned (in the scan it
                # was every candidate, and its narrow width estimate steered PostgreSQL's
                # planner to a sequential scan and an external sort for deep offsets)
                page = stmt.subquery("page")
                stmt = ordered(select(self._row_json(page, "page")).select_from(page), page.c)
            return stmt

        if limit is not None:
            params["page_limit"] = limit
        if offset:
            params["page_offset"] = offset
        return self.cached(key, build), params

    def point_read(self, conditions: Sequence[Condition]) -> tuple[str, dict[str, Any]]:
        """``SELECT *`` by these conditions as SQL text (the first is the id, ``p0``)."""
        clauses, params, shape = self.where(conditions)

        def build() -> Any:
            return select(literal_column("*")).select_from(self.table).where(*clauses())

        sql, _ = self.text(self.cached(("point", shape), build))
        return sql, {k: v for k, v in params.items() if k != "p0"}

    def count(self, conditions: Sequence[Condition]) -> tuple[Any, dict[str, Any]]:
        clauses, params, shape = self.where(conditions)

        def build() -> Any:
            stmt = select(func.count()).select_from(self.table)
            where = clauses()
            return stmt.where(*where) if where else stmt

        return self.cached(("count", shape), build), params

    def update(
        self, conditions: Sequence[Condition], names: Sequence[str], as_json: bool = False
    ) -> tuple[Any, dict[str, Any]]:
        """UPDATE … RETURNING every column (with `as_json`, on PostgreSQL: the new row as
        one JSON text, keyed by column name); values bind as ``v_<name>``, the time as
        ``now``.

        ``_modifiedAt`` becomes ``max(now, old + MODIFIED_AT_STEP)`` in the same step.
        """
        clauses, params, shape = self.where(conditions)
        names = tuple(sorted(names))
        as_json = as_json and self.postgres

        def build() -> Any:
            modified = self.columns["_modifiedAt"]
            # the constants in the text: nothing for the driver to bind on every update
            zero: Any = cast(literal_column(repr(0.0)), Double())
            step: Any = cast(literal_column(repr(MODIFIED_AT_STEP)), Double())
            bump = func.coalesce(modified, zero) + step
            now: Any = bindparam("now", type_=Double())
            newest = func.greatest(now, bump) if self.postgres else func.max(now, bump)
            assignments = {n: bindparam(f"v_{n}", type_=self.columns[n].type) for n in names}
            stmt = update(self.table).where(*clauses()).values(**assignments, _modifiedAt=newest)
            if as_json:
                name = str(self.engine.dialect.identifier_preparer.quote(self.table.name))
                return stmt.returning(self._row_json(self.table, name))
            return stmt.returning(*self.table.columns)

        return self.cached(("update", shape, names, as_json), build), params

    def update_text(
        self, conditions: Sequence[Condition], names: tuple[str, ...], as_json: bool
    ) -> tuple[str, dict[str, Any]]:
        """`update` as SQL text for the driver cursor, its parameters (constants included)
        ready: one cache lookup on the hot path of every update."""
        params, shape = self.bound(conditions)
        sql, constants = self.cached(
            ("update_text", shape, names, as_json),
            lambda: self.text(self.update(conditions, names, as_json)[0]),
        )
        params.update(constants)
        return sql, params

    def delete(self, conditions: Sequence[Condition]) -> tuple[Any, dict[str, Any]]:
        clauses, params, shape = self.where(conditions)

        def build() -> Any:
            stmt = delete(self.table)
            where = clauses()
            return stmt.where(*where) if where else stmt

        return self.cached(("delete", shape), build), params
