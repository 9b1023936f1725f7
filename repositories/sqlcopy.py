"""Bulk insert into PostgreSQL with ``COPY … FROM STDIN`` (text format).

One COPY per batch is what makes `create_many` faster than multi-row ``INSERT``. Both
psycopg2 (``copy_expert``) and psycopg 3 (``cursor.copy``) are supported; the rows go
through the connection's current transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, DateTime, Float, Integer, Table
from sqlalchemy import exc as sa_exc

__all__ = ["copy_rows", "fetch"]

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def _encoder(table: Table, name: str) -> Callable[[Any], str]:
    """COPY text encoding of one column's (non-null) values, chosen once per column."""
    column_type = table.columns[name].type
    if isinstance(column_type, Boolean):
        return lambda v: "t" if v else "f"
    if isinstance(column_type, JSON) or isinstance(getattr(column_type, "impl", None), JSON):
        return lambda v: _text(_JSON.encode(v))
    if isinstance(column_type, DateTime):
        return lambda v: v.isoformat() if isinstance(v, dt.datetime) else str(v)
    if isinstance(column_type, Integer | Float):
        return repr  # exact: repr(float) round-trips
    return _text


@contextlib.contextmanager
def _wrapped_driver_errors(conn: Connection, sql: str, cursor: Any) -> Iterator[None]:
    """The raw cursor bypasses SQLAlchemy: wrap its errors as SQLAlchemy would (a
    disconnect invalidates the connection), so the backend translates them in one place."""
    driver_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except driver_error as exc:
        dbapi = conn.connection.dbapi_connection
        disconnect = conn.dialect.is_disconnect(exc, dbapi, cursor)
        if disconnect:
            conn.invalidate(exc)
        raise sa_exc.DBAPIError.instance(
            sql, None, exc, driver_error, connection_invalidated=disconnect, dialect=conn.dialect
        ) from exc


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
    try:
        with _wrapped_driver_errors(conn, sql, cursor):
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return ([column[0] for column in cursor.description] if describe else []), rows
    finally:
        if not getattr(cursor, "closed", False):
            cursor.close()


def copy_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY `rows` (dicts keyed by column name) into `table` in one statement."""
    names = [c.name for c in table.columns]
    encoders = [(name, _encoder(table, name)) for name in names]
    payload = "".join(
        "\t".join(["\\N" if (v := row.get(n)) is None else encode(v) for n, encode in encoders])
        + "\n"
        for row in rows
    )
    preparer = conn.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(n) for n in names)
    sql = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN"
    # encoded here, not by the driver: text the connection's encoding cannot hold is then
    # a UnicodeEncodeError (refused input), not a COPY the server reports as cancelled
    data = payload.encode(_python_encoding(conn))
    cursor = _cursor(conn)
    try:
        with _wrapped_driver_errors(conn, sql, cursor):
            if hasattr(cursor, "copy_expert"):  # psycopg2
                cursor.copy_expert(sql, io.BytesIO(data))
            else:  # psycopg 3
                with cursor.copy(sql) as copy:
                    copy.write(data)
    finally:
        cursor.close()


def _python_encoding(conn: Connection) -> str:
    """The Python codec of the connection's client encoding."""
    dbapi: Any = conn.connection.dbapi_connection
    if hasattr(dbapi, "copy_expert") or hasattr(dbapi, "get_dsn_parameters"):  # psycopg2
        import psycopg2.extensions

        return str(psycopg2.extensions.encodings[dbapi.encoding])
    return str(dbapi.info.encoding)  # psycopg 3
