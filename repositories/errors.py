"""Errors raised by every repository backend.

Driver errors are translated at the backend boundary (``raise … from exc``); nothing
backend-specific leaks to callers::

    RepositoryError
    ├── RecordNotFound          the id does not exist (or is not visible to the context)
    ├── DuplicateRecord         create with an id that already exists
    ├── ConcurrentModification  the record changed since `expected_modified_at`
    ├── InvalidQuery            unknown field or op, bad value, bad id or table name
    ├── AccessDenied            the context may not do this
    ├── SchemaError             the stored schema does not match the models
    ├── StoreCorrupted          a stored file or row cannot be read
    ├── LockTimeout             an inter-process lock was not acquired in time
    ├── StatementTimeout        the database cancelled a statement (statement or lock timeout)
    ├── TransactionConflict     the database aborted a transaction (deadlock, serialization)
    ├── OutcomeUnknown          the connection dropped after a write was sent: it may or may
    │                           not have been applied (never reported as a conflict)
    └── BackendUnavailable      the database cannot be reached
        └── TransactionLost     the connection dropped inside a transaction: none of it
                                was applied, the block may be run again
"""

from __future__ import annotations

from models.errors import ConnectorsError, ExitCode

__all__ = [
    "AccessDenied",
    "BackendUnavailable",
    "ConcurrentModification",
    "DuplicateRecord",
    "InvalidQuery",
    "LockTimeout",
    "OutcomeUnknown",
    "RecordNotFound",
    "RepositoryError",
    "SchemaError",
    "StatementTimeout",
    "StoreCorrupted",
    "TransactionConflict",
    "TransactionLost",
]


class RepositoryError(ConnectorsError):
    """Root of every repository error (below the library's `ConnectorsError`)."""


class RecordNotFound(RepositoryError):
    """The id does not exist (or is not visible to the context)."""

    exit_code = ExitCode.NOT_FOUND

    def __init__(self, table: str, record_id: str) -> None:
        super().__init__(f"{table}: no record with id {record_id!r}")
        self.table = table
        self.record_id = record_id


class DuplicateRecord(RepositoryError):
    """A record with this id already exists."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, table: str, record_id: str | None = None) -> None:
        what = f"id {record_id!r}" if record_id is not None else "an id in this batch"
        super().__init__(f"{table}: a record with {what} already exists")
        self.table = table
        self.record_id = record_id


class ConcurrentModification(RepositoryError):
    """The record changed since the caller read it (`expected_modified_at`)."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, table: str, record_id: str, expected: float | None) -> None:
        super().__init__(
            f"{table}: record {record_id!r} was modified since {expected!r} (read it again)"
        )
        self.table = table
        self.record_id = record_id
        self.expected_modified_at = expected


class InvalidQuery(RepositoryError):
    """Unknown field or op, a value of the wrong type, an invalid id or table name."""

    exit_code = ExitCode.USAGE


class AccessDenied(RepositoryError):
    """The context's privilege or mandate does not allow this operation."""

    exit_code = ExitCode.DENIED


class SchemaError(RepositoryError):
    """The stored schema does not match the models (or cannot be changed additively)."""

    exit_code = ExitCode.DAMAGED


class StoreCorrupted(RepositoryError):
    """A stored file or row cannot be read; names the file or table."""

    exit_code = ExitCode.DAMAGED


class LockTimeout(RepositoryError):
    """An inter-process lock was not acquired in time."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, table: str, timeout: float, holder_pid: int | None = None) -> None:
        holder = f" (held by pid {holder_pid})" if holder_pid else ""
        super().__init__(f"{table}: lock not acquired within {timeout:g}s{holder}")
        self.table = table
        self.timeout = timeout
        self.holder_pid = holder_pid


class BackendUnavailable(RepositoryError):
    """The database cannot be reached."""

    exit_code = ExitCode.UNAVAILABLE


class TransactionLost(BackendUnavailable):
    """The connection dropped inside a transaction before its commit was sent.

    The database rolls such a transaction back: nothing of it was applied, so running the
    whole block again is safe.
    """


class StatementTimeout(RepositoryError):
    """The database cancelled a statement: ``statement_timeout``, ``lock_timeout`` or a
    cancel request. Nothing of the statement was applied."""

    exit_code = ExitCode.UNAVAILABLE


class TransactionConflict(RepositoryError):
    """The database aborted the statement to resolve a deadlock or a serialization
    failure. Nothing of it was applied; run it (or the transaction) again."""

    exit_code = ExitCode.CONFLICT


class OutcomeUnknown(RepositoryError):
    """The connection dropped after a write was sent and its outcome could not be proven.

    The write may or may not have been applied; it is never reported as a conflict or a
    missing record, since that could be false. Read the record again to decide (the
    repositories already resolved every case their own audit stamps could prove).

    Attributes:
        table: the table written.
        record_id: the record, when the write was about one.
        operation: ``create``, ``create_many``, ``update``, ``delete``, ``delete_many``,
            ``import`` or ``commit``.
    """

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, table: str, operation: str, record_id: str | None = None) -> None:
        what = f" of record {record_id!r}" if record_id is not None else ""
        super().__init__(
            f"{table}: the connection dropped during {operation}{what}; it may or may not "
            "have been applied (read it again)"
        )
        self.table = table
        self.operation = operation
        self.record_id = record_id
