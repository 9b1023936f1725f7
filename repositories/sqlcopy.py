"""The SQL backend's paths on the driver cursor, below SQLAlchemy's execute.

Bulk insert into PostgreSQL with ``COPY … FROM STDIN`` (text format, built column by
column, sent a chunk at a time so the server parses while the next chunk is built): what
makes `create_many` and `import_rows` fast. psycopg2
(``copy_expert``) and psycopg 3 (``cursor.copy``, and its async driver, awaited from the
greenlet `repositories.sqlasync` runs the core in) are supported. Also plain inserts and
reads of compiled SQL text. Everything goes through the connection's current transaction;
driver errors are wrapped as SQLAlchemy would, so `repositories.sqlcore` translates them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic_core import to_json
from sqlalchemy import JSON, Boolean, Connection, Dialect, Float, Integer, Table
from sqlalchemy import exc as sa_exc

from repositories.rows import transposed

__all__ = ["copy_rows", "copy_stream", "fetch", "fetch_each", "insert_rows"]

_NULL = "\\N"
_N = TypeVar("_N", str, None)  # what stands for SQL NULL: COPY's text, or None
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _kind(table: Table, name: str) -> str:
    column_type = table.columns[name].type
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, JSON) or isinstance(getattr(column_type, "impl", None), JSON):
        return "json"
    if isinstance(column_type, Integer | Float):
        return "number"
    return "text"  # text, and datetimes as the core's ISO text


def _column(kind: str, values: Sequence[Any]) -> Sequence[str]:
    """COPY text of one column's values, column-wise: the common case costs a few C-level
    passes (joins, substring tests) instead of a Python call per value."""
    has_null = None in values
    if kind == "number":  # repr is exact: a float round-trips
        return (
            [_NULL if v is None else repr(v) for v in values] if has_null else [*map(repr, values)]
        )
    if kind == "bool":
        return [_NULL if v is None else ("t" if v else "f") for v in values]
    if kind == "json":  # JSON text holds no raw tab or newline: only backslashes escaped
        return _json_texts(values, _NULL, escape=True)
    present = [v for v in values if v is not None] if has_null else values
    chars = "".join(present)
    if "\\" in chars or "\t" in chars or "\n" in chars or "\r" in chars:
        values = [None if v is None else v.translate(_ESCAPES) for v in values]
    return [_NULL if v is None else v for v in values] if has_null else values


@contextlib.contextmanager
def _wrapped_driver_errors(conn: Connection, sql: str, cursor: Any) -> Iterator[None]:
    """The raw cursor bypasses SQLAlchemy: wrap its errors as SQLAlchemy would (a
    disconnect invalidates the connection), so the backend translates them in one place."""
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, sql, cursor, exc) from exc


def _wrapped(conn: Connection, sql: str, cursor: Any, exc: Any) -> sa_exc.StatementError:
    """A driver error as SQLAlchemy's `DBAPIError` (`_wrapped_driver_errors`)."""
    dbapi = conn.connection.dbapi_connection
    disconnect = conn.dialect.is_disconnect(exc, dbapi, cursor)
    if disconnect:
        conn.invalidate(exc)
    error: sa_exc.StatementError = sa_exc.DBAPIError.instance(
        sql,
        None,
        exc,
        conn.dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=conn.dialect,
    )
    return error


def _cursor(conn: Connection) -> Any:
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a live connection always has one
        raise RuntimeError("no DBAPI connection")
    return dbapi.cursor()


def fetch(
    conn: Connection, sql: str, params: dict[str, Any], describe: bool = True
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run compiled SQL text on the driver cursor: the column names (if `describe`; the
    driver builds them on each call, so callers that know them skip it) and every row.

    No SQLAlchemy result processing: for statements SQLAlchemy compiled and whose
    result types the driver already converts (PostgreSQL).

    Driver errors are wrapped as SQLAlchemy would (disconnects invalidate the
    connection), so the backend translates them at its one boundary.
    """
    cursor = _cursor(conn)
    try:  # the errors wrapped inline: this is every point read's and update's path
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        return ([column[0] for column in cursor.description] if describe else []), rows
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, sql, cursor, exc) from exc
    finally:
        if not getattr(cursor, "closed", False):
            cursor.close()


def fetch_each(
    conn: Connection,
    sql: str,
    params: dict[str, Any],
    consume: Callable[[list[tuple[Any, ...]]], None],
    size: int = 2000,
) -> None:
    """Like `fetch`, handing the rows to `consume` `size` at a time.

    The driver keeps the whole result in its compact C buffer and builds Python objects
    only for the rows fetched, so what `consume` makes of a chunk (models) never lives
    beside the raw text of every row.
    """
    cursor = _cursor(conn)
    try:
        with _wrapped_driver_errors(conn, sql, cursor):
            cursor.execute(sql, params)
            while chunk := cursor.fetchmany(size):
                consume(chunk)
    finally:
        if not getattr(cursor, "closed", False):
            cursor.close()


@functools.lru_cache(maxsize=256)
def _insert_text(table: Table, dialect: Dialect) -> tuple[str, tuple[str, ...], bool]:
    """The compiled INSERT of every column: its text, parameter order and style."""
    compiled = table.insert().compile(dialect=dialect, column_keys=[c.name for c in table.columns])
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(table.c.keys())
    return str(compiled), names, bool(compiled.positional)


def _sqlite_datetime(iso: str) -> str:
    """The core's UTC ISO text in the form SQLAlchemy keeps datetimes in on SQLite."""
    return dt.datetime.fromisoformat(iso).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    json_columns: Collection[str],
    datetimes: Collection[str],
) -> None:
    """Plain ``INSERT`` of the core's rows on the driver cursor (``executemany``).

    JSON goes as JSON text (a value may be its text already: bytes, as
    `RowRules.dump_many_json_text` gives it); datetimes (the core's UTC ISO text) as
    PostgreSQL reads them, or in the form SQLAlchemy keeps them in on SQLite, so both
    paths read back alike.
    """
    sql, names, positional = _insert_text(table, conn.dialect)
    sqlite = conn.dialect.name == "sqlite"
    columns: list[Sequence[Any]] = []  # column-wise, as for COPY: C-level passes
    for name in names:
        values = list(map(dict.get, rows, itertools.repeat(name)))
        if name in json_columns:
            columns.append(_json_texts(values, None))
        elif sqlite and name in datetimes:
            columns.append([None if v is None else _sqlite_datetime(v) for v in values])
        else:
            columns.append(values)
    encoded: list[Any] = list(zip(*columns, strict=True))
    if not positional:
        encoded = [dict(zip(names, values, strict=True)) for values in encoded]
    cursor = _cursor(conn)
    try:
        with _wrapped_driver_errors(conn, sql, cursor):
            cursor.executemany(sql, encoded)
    finally:
        cursor.close()


def _json_texts(values: Sequence[Any], null: _N, escape: bool = False) -> Sequence[str | _N]:
    """Each JSON value as JSON text by pydantic-core's encoder (bytes: its text already,
    as `RowRules.dump_many_json_text` gives it), backslashes doubled if `escape` (COPY's
    text format); None becomes `null`."""
    present = [v for v in values if v is not None] if None in values else values
    # JSON text holds no raw newline: one decode, one split for the whole column
    text = b"\n".join([v if v.__class__ is bytes else to_json(v) for v in present]).decode()
    if escape and "\\" in text:
        text = text.replace("\\", "\\\\")
    texts = text.split("\n") if present else []
    if len(present) == len(values):
        return texts
    encoded = iter(texts)
    return [null if v is None else next(encoded) for v in values]


def copy_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY `rows` (the core's storage rows, keyed by column name) into `table`."""
    copy_stream(conn, table, [rows])


def copy_stream(conn: Connection, table: Table, chunks: Iterable[Sequence[dict[str, Any]]]) -> None:
    """One COPY of every row of `chunks` into `table`, each chunk sent as it comes.

    `chunks` may be a generator that builds (dumps, checks) each chunk only when asked:
    the server then parses one chunk while the next is built. An exception it raises
    aborts the COPY (the server discards what it had) and reaches the caller as it is.
    The server reports a failing row (a duplicate) only when the COPY ends, so after
    `chunks` is exhausted.
    """
    names = [c.name for c in table.columns]
    kinds = [_kind(table, n) for n in names]
    preparer = conn.dialect.identifier_preparer
    quoted = ", ".join(preparer.quote(n) for n in names)
    sql = f"COPY {preparer.format_table(table)} ({quoted}) FROM STDIN"
    encoding = _python_encoding(conn)

    def payloads() -> Iterator[bytes]:
        for rows in chunks:
            if not rows:
                continue
            columns = [
                _column(kind, values)
                for kind, values in zip(kinds, transposed(rows, names), strict=True)
            ]
            payload = "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"
            # encoded here, not by the driver: text the connection's encoding cannot hold
            # is then a UnicodeEncodeError (refused input), not a cancelled COPY
            yield payload.encode(encoding)

    cursor = _cursor(conn)
    try:
        with _wrapped_driver_errors(conn, sql, cursor):
            if hasattr(cursor, "copy_expert"):  # psycopg2
                _copy_psycopg2(cursor, sql, payloads())
            elif hasattr(cursor, "copy"):  # psycopg 3
                with cursor.copy(sql) as copy:
                    for data in payloads():
                        copy.write(data)
            else:  # psycopg 3's async driver, under SQLAlchemy's asyncio adapter
                from sqlalchemy.util.concurrency import await_only

                await_only(_copy_async(cursor._cursor, sql, payloads()))
    finally:
        cursor.close()


class _Reader:
    """The file psycopg2's ``copy_expert`` reads: the payloads, one per ``read``.

    psycopg2 turns an exception raised in ``read`` into the server's "COPY cancelled";
    the exception is kept here so the caller gets it, not that.
    """

    def __init__(self, payloads: Iterator[bytes]) -> None:
        self._payloads = payloads
        self.error: BaseException | None = None

    def read(self, _size: int = -1) -> bytes:
        try:
            return next(self._payloads, b"")
        except BaseException as exc:
            self.error = exc
            raise


def _copy_psycopg2(cursor: Any, sql: str, payloads: Iterator[bytes]) -> None:
    reader = _Reader(payloads)
    try:
        cursor.copy_expert(sql, reader, size=1 << 20)
    except BaseException:
        if reader.error is not None:
            raise reader.error from None
        raise


async def _copy_async(cursor: Any, sql: str, payloads: Iterator[bytes]) -> None:
    async with cursor.copy(sql) as copy:
        for data in payloads:
            await copy.write(data)


def _python_encoding(conn: Connection) -> str:
    """The Python codec of the connection's client encoding."""
    dbapi: Any = conn.connection.dbapi_connection
    if hasattr(dbapi, "copy_expert") or hasattr(dbapi, "get_dsn_parameters"):  # psycopg2
        import psycopg2.extensions

        return str(psycopg2.extensions.encodings[dbapi.encoding])
    return str(dbapi.info.encoding)  # psycopg 3
