"""The SQL backend: PostgreSQL (production) and SQLite, on SQLAlchemy 2.x Core.

Lookups compile to SQL in `repositories.sqlstatements` (``contains`` to ``@>`` on
PostgreSQL; on SQLite to a deterministic function registered on every connection that
runs the same Python `jsonb_contains` the JSON store uses). ``create_many`` writes one
statement per batch; on PostgreSQL one ``COPY`` streams every row, chunk by chunk
(`repositories.sqlcopy`). Connections,
transactions and the translation of driver errors live in `repositories.sqlcore`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from sqlalchemy import Connection, Engine, MetaData, select
from sqlalchemy import exc as sa_exc

from models.base import Record
from models.schema import model_info
from models.tables import metadata_for
from repositories import sqlcopy
from repositories.base import DatabaseBase, RepositoryBase
from repositories.context import Context
from repositories.errors import (
    AccessDenied,
    DuplicateRecord,
    InvalidQuery,
    OutcomeUnknown,
    StoreCorrupted,
)
from repositories.keyset import Keyset
from repositories.lookups import Condition, Query
from repositories.outcomes import again_if_lost, settle_insert
from repositories.sqlcore import CONTAINS_FN, SqlCore, translate, translate_unicode
from repositories.sqloptions import SqlOptions
from repositories.sqlstatements import Statements

__all__ = ["SqlDatabase", "SqlRepository"]

T = TypeVar("T", bound=Record)

#: Rows `create_many` sends to PostgreSQL's ``COPY`` at a time (see `_create_rows`).
STREAM_ROWS = 1000


class SqlRepository(RepositoryBase[T]):
    """`Repository` on one SQL table.

    Statements come from `repositories.sqlstatements` (built once per query shape). Reads
    of models let the database render each row as JSON that pydantic-core validates in
    one pass, chunk by chunk; point reads, updates and plain inserts run their compiled
    text on the driver cursor (SQLAlchemy's execute costs more than a round trip), and
    bulk inserts on PostgreSQL use ``COPY``.
    """

    _json_text = True  # both inserts send JSON as text: the dump's, where it made it

    def __init__(self, model: type[T], database: SqlDatabase) -> None:
        super().__init__(model, database)
        self._core = database._core
        self._who = database.context  # reads may go to a replica; writes pin it to the primary
        self.table = self._core.table(model)
        self._sql = Statements(self.table, self.info, self._core.engine, CONTAINS_FN)
        self._keys = [c.name for c in self.table.columns]
        self._datetimes = [f.storage for f in self.info.fields if f.kind == "datetime"]
        self._json_columns = {f.storage for f in self.info.fields if f.kind == "json"}
        self._postgres = self._core.dialect == "postgresql"
        self._value_params = {name: f"v_{name}" for name in self._keys}  # an update's binds
        self._get_sql: tuple[str, dict[str, Any]] | None = None
        self._get_names: list[str] = []  # SELECT * column order, learnt on first use
        self._list_adapter: TypeAdapter[list[T]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        if self._core.create_tables and self.table.name not in self._core.ensured:
            self._core.ensure_tables([model])

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

    def _create_rows(self, objs: list[T], now: float, batch_size: int) -> list[dict[str, Any]]:
        """On PostgreSQL one ``COPY`` streams every row: a chunk (`batch_size` rows, at most
        `STREAM_ROWS`) is dumped, checked and sent while the server parses the one before.

        The server reports a failing row only when the COPY ends, after the last chunk is
        checked, so a refused value is `InvalidQuery` whatever else the batch holds, as on
        every backend; an exception aborts the COPY and the transaction undoes it whole.
        """
        if not self._postgres or len(objs) < 2:
            return super()._create_rows(objs, now, batch_size)
        rows: list[dict[str, Any]] = []  # kept across a retry, so dumped once
        step = min(batch_size, STREAM_ROWS)

        def chunks() -> Iterator[list[dict[str, Any]]]:
            for start in range(0, len(objs), step):
                if start >= len(rows):
                    rows.extend(self._new_rows(objs[start : start + step], now))
                yield rows[start : start + step]
            self._check_unique(rows)  # every row checked: now a repeated id

        def insert() -> None:
            with self.database.transaction():
                self._core.run(
                    self.info.table,
                    lambda conn: sqlcopy.copy_stream(conn, self.table, chunks()),
                    write="create",
                    context=self._who,
                )

        try:
            again_if_lost(self, insert)
        except OutcomeUnknown:  # the commit's reply was lost: every row was dumped
            settle_insert(self, rows, "create_many", insert)
        return rows

    def _insert_rows(self, rows: list[dict[str, Any]]) -> None:
        def work(conn: Connection) -> None:
            if self._postgres and len(rows) > 1:
                sqlcopy.copy_rows(conn, self.table, rows)  # takes the core's rows as they are
            else:
                sqlcopy.insert_rows(conn, self.table, rows, self._json_columns, self._datetimes)

        try:
            self._core.run(self.info.table, work, write="create", context=self._who)
        except DuplicateRecord as exc:
            raise DuplicateRecord(
                self.info.table, rows[0]["id"] if len(rows) == 1 else None
            ) from exc

    def _select_rows(self, query: Query) -> list[dict[str, Any]]:
        stmt, params = self._sql.select(query)
        return self._core.run(
            self.info.table, lambda conn: self._rows(conn.execute(stmt, params)), context=self._who
        )

    def _select_models(self, query: Query) -> list[T]:
        if not self._sql.renders_json:
            return super()._select_models(query)
        first = query.conditions[0] if query.conditions else None
        if first is not None and first.field.name == "id" and first.op == "eq" and not query.offset:
            # the primary key matches one row at most: no LIMIT to plan
            query = dataclasses.replace(query, limit=None)
        stmt, params = self._sql.select(query, as_json=True)
        validate_rows = self._list_adapter.validate_json

        def validated(models: list[T], chunk: Sequence[Any]) -> None:
            # chunk by chunk: no chunk's text outlives its models' validation
            models.extend(validate_rows("[" + ",".join([r[0] for r in chunk]) + "]"))

        def work(conn: Connection) -> list[T]:
            models: list[T] = []
            if self._postgres:
                sql, _ = self._sql.text(stmt)
                sqlcopy.fetch_each(conn, sql, params, lambda chunk: validated(models, chunk))
            else:
                result = conn.execute(stmt, params)
                while chunk := result.fetchmany(2000):
                    validated(models, chunk)
            return models

        try:
            return self._core.run(self.info.table, work, context=self._who)
        except ValidationError as exc:
            raise StoreCorrupted(f"{self.info.table}: stored rows do not validate: {exc}") from exc

    def _select_page(self, query: Query, position: Keyset) -> list[T]:
        from repositories.sqlkeyset import select_page

        return [self._load(row) for row in select_page(self, query, position)]

    def get(self, record_id: str) -> T | None:
        """By primary key. On PostgreSQL: one statement compiled once per repository (its
        scope is fixed by the context), one round trip, one validation."""
        if not self._postgres:
            return super().get(record_id)
        ident = self._by_id(record_id)
        if self._get_sql is None:  # the scope is fixed per repository: compiled once
            self._get_sql = self._sql.point_read([ident, *self.scope.read])
        sql, constants = self._get_sql
        params, names = {"p0": record_id, **constants}, self._get_names
        found, rows = self._core.run(
            self.info.table,
            lambda conn: sqlcopy.fetch(conn, sql, params, not names),
            context=self._who,
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
        stmt, params = self._sql.select(query)
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
        stmt, params = self._sql.count(conditions)
        return int(
            self._core.run(
                self.info.table,
                lambda conn: conn.execute(stmt, params).scalar_one(),
                context=self._who,
            )
        )

    def _update_row(
        self,
        record_id: str,
        conditions: Sequence[Condition],
        values: dict[str, Any],
        now: float,
    ) -> dict[str, Any] | None:
        if not self._postgres:
            stmt, params = self._sql.update(conditions, list(values))
            params["now"] = now
            params.update({f"v_{n}": v for n, v in self._params(values).items()})

            def work(conn: Connection) -> dict[str, Any] | None:
                rows = self._rows(conn.execute(stmt, params))
                return rows[0] if rows else None

            return self._core.run(self.info.table, work, write="update", context=self._who)
        rows = self._pg_update(conditions, values, now, as_json=False)
        return dict(zip(self._keys, rows[0], strict=True)) if rows else None

    def _update_record(
        self,
        record_id: str,
        conditions: Sequence[Condition],
        values: dict[str, Any],
        now: float,
    ) -> T | None:
        """On PostgreSQL the new row comes back as one JSON text (``row_to_json``) that
        pydantic-core validates in one pass: no driver-side decoding of each column."""
        if not self._postgres:
            return super()._update_record(record_id, conditions, values, now)
        rows = self._pg_update(conditions, values, now, as_json=True)
        if not rows:
            return None
        try:
            return self.model.__pydantic_validator__.validate_json(rows[0][0])  # type: ignore[no-any-return]
        except ValidationError as exc:
            raise self._unreadable(record_id, exc) from exc

    def _pg_update(
        self, conditions: Sequence[Condition], values: dict[str, Any], now: float, as_json: bool
    ) -> list[tuple[Any, ...]]:
        """The UPDATE's compiled text on the driver cursor; JSON values as JSON text."""
        sql, params = self._sql.update_text(conditions, tuple(values), as_json)
        params["now"] = now
        json_columns, names = self._json_columns, self._value_params
        for name, value in values.items():
            if value is not None and name in json_columns:
                value = to_json(value).decode()
            params[names[name]] = value
        _, rows = self._core.run(
            self.info.table,
            lambda conn: sqlcopy.fetch(conn, sql, params, False),
            write="update",
            context=self._who,
        )
        return rows

    def _delete_rows(self, conditions: Sequence[Condition]) -> int:
        stmt, params = self._sql.delete(conditions)
        return int(
            self._core.run(
                self.info.table,
                lambda conn: conn.execute(stmt, params).rowcount,
                write="delete",
                context=self._who,
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
        _core: SqlCore | None = None,
        **options: Any,
    ) -> None:
        super().__init__(url, context or Context.system())
        self._core = _core or SqlCore(url, create_tables, SqlOptions.of(**options))

    @property
    def engine(self) -> Engine:
        return self._core.engine

    @property
    def dialect(self) -> str:
        return self._core.dialect

    def replica_status(self) -> list[dict[str, Any]]:
        """Each read replica checked now: url (password masked), ok, lag_seconds, detail."""
        return [] if self._core.replicas is None else self._core.replicas.status()

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
