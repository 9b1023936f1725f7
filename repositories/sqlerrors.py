"""Driver errors as repository errors: the SQL backend's one translation.

`repositories.sqlcore` decides what a lost connection means for a write
(`OutcomeUnknown`) or inside a transaction (`TransactionLost`); here each driver error
gets the repository error a caller can act on.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from repositories.errors import (
    BackendUnavailable,
    DuplicateRecord,
    InvalidQuery,
    RepositoryError,
    SchemaError,
    StatementTimeout,
    StoreCorrupted,
    TransactionConflict,
)

__all__ = ["connect_problem", "dropped", "first_line", "translate", "translate_unicode"]

#: SQLSTATEs (PostgreSQL) by what they mean to a caller.
_CANCELLED = ("57014", "55P03")  # statement_timeout or a cancel request; lock_timeout
_CONFLICTS = ("40P01", "40001")  # deadlock; serialization failure
_MISSING = ("42P01", "42703")  # undefined table, undefined column


def first_line(exc: sa_exc.DBAPIError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.splitlines()[0] if text else type(exc.orig).__name__


def connect_problem(exc: sa_exc.DBAPIError) -> str:
    line = first_line(exc)
    if "unsupported startup parameter" in line:
        # PgBouncer refuses libpq's `options`, which carries statement_timeout
        line += (
            " (a connection pooler such as PgBouncer in between? It passes no startup "
            "options: leave statement_timeout unset here and set it on the role, "
            "ALTER ROLE … SET statement_timeout)"
        )
    return line


def dropped(exc: sa_exc.DBAPIError) -> bool:
    """Whether the connection was lost (the statement's fate is unknown)."""
    return bool(exc.connection_invalidated)


def translate(exc: sa_exc.DBAPIError, table: str) -> RepositoryError:
    """A driver error as a repository error (callers `raise … from exc`).

    A lost connection is `BackendUnavailable` here; `SqlCore.run` decides what a drop
    means for a write (`OutcomeUnknown`) or inside a transaction (`TransactionLost`).
    """
    line = first_line(exc)
    code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
    lowered = line.lower()
    if dropped(exc):
        return BackendUnavailable(f"{table}: connection to the database lost: {line}")
    if isinstance(exc, sa_exc.IntegrityError) and (
        code == "23505" or "unique" in lowered or "primary key" in lowered
    ):
        return DuplicateRecord(table)
    if code in _MISSING or "no such table" in lowered or "no such column" in lowered:
        return SchemaError(
            f"{table}: table or column missing ({line}); migrate it: connectors db upgrade "
            "(or alembic upgrade head, or db.ensure_schema(...))"
        )
    if code in _CANCELLED or "database is locked" in lowered:
        return StatementTimeout(f"{table}: statement cancelled by the database: {line}")
    if code in _CONFLICTS:
        return TransactionConflict(f"{table}: aborted by the database: {line}")
    if isinstance(exc, sa_exc.DataError) or (code or "").startswith("22") or code == "54000":
        # class 22 (data exceptions) covers encodings: 22021 bad byte sequence, 22P05
        # untranslatable character; 54000 is a value over a size limit
        return InvalidQuery(f"{table}: value rejected by the database: {line}")
    if isinstance(exc, sa_exc.OperationalError):
        return BackendUnavailable(f"{table}: database unavailable: {line}")
    return RepositoryError(f"{table}: {type(exc.orig).__name__}: {line}")


def translate_unicode(exc: UnicodeError, table: str) -> RepositoryError:
    """Text the driver could not convert: ours to send (refused) or stored (damaged)."""
    if isinstance(exc, UnicodeDecodeError):
        return StoreCorrupted(
            f"{table}: stored text is not valid in the connection's encoding: {exc}"
        )
    return InvalidQuery(f"{table}: text cannot be sent in the connection's encoding: {exc}")
