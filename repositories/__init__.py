"""The repository contract and its backends.

`connect(url, context=...)` opens a `Database` for ``postgresql://…``, ``sqlite://…``
or ``jsonfile://<dir>``; ``db.repository(Model)`` gives a `Repository`.
`connect_async` opens the same as an `AsyncDatabase` (asyncio).
"""

from __future__ import annotations

import inspect
from typing import Any

from repositories.asyncdb import AsyncDatabase, AsyncRepository, open_async
from repositories.context import Context
from repositories.contract import Database, Repository
from repositories.errors import (
    AccessDenied,
    BackendUnavailable,
    ConcurrentModification,
    DuplicateRecord,
    InvalidQuery,
    LockTimeout,
    OutcomeUnknown,
    RecordNotFound,
    RepositoryError,
    SchemaError,
    StatementTimeout,
    StoreCorrupted,
    TransactionConflict,
    TransactionLost,
)
from repositories.keyset import Page
from repositories.sqloptions import SqlOptions
from repositories.urls import redact_url

__all__ = [
    "AccessDenied",
    "AsyncDatabase",
    "AsyncRepository",
    "BackendUnavailable",
    "ConcurrentModification",
    "Context",
    "Database",
    "DuplicateRecord",
    "InvalidQuery",
    "LockTimeout",
    "OutcomeUnknown",
    "Page",
    "RecordNotFound",
    "Repository",
    "RepositoryError",
    "SchemaError",
    "SqlOptions",
    "StatementTimeout",
    "StoreCorrupted",
    "TransactionConflict",
    "TransactionLost",
    "connect",
    "connect_async",
]


def connect(url: str, context: Context | None = None, **options: Any) -> Database:
    """Open the database at `url` as `context` (default: `Context.system()`).

    Args:
        url: ``postgresql[+psycopg2|+psycopg]://…``, ``sqlite:///path`` (or ``sqlite://``
            in memory) or ``jsonfile://<dir>``.
        context: who is calling; scopes reads and writes and stamps audit fields.
        **options: backend options. SQL: ``create_tables`` and `SqlOptions` (``pool_size``,
            ``max_overflow``, ``pool_timeout``, ``connect_timeout``, ``statement_timeout``,
            ``application_name``, ``replicas``, ``read_your_writes``, ``replica_max_lag``,
            ``replica_check_interval``; see ``docs/scaling.md``). JSON: ``durability``,
            ``lock_timeout``. An unknown option is `InvalidQuery`.
    """
    scheme = _scheme(url)
    if scheme in ("postgresql", "postgres", "sqlite"):
        from repositories.sql import SqlDatabase

        if scheme == "postgres":
            url = "postgresql" + url[len("postgres") :]
        return SqlDatabase(url, context, **options)
    if scheme == "jsonfile":
        from repositories.jsonfile import JsonDatabase  # type: ignore[import-not-found,unused-ignore]

        known = [
            p for p in inspect.signature(JsonDatabase).parameters if p not in ("url", "context")
        ]
        unknown = sorted(set(options) - set(known))
        if unknown:
            shown = ", ".join(p for p in known if not p.startswith("_"))
            raise InvalidQuery(f"unknown JSON store option {unknown[0]!r}; known: {shown}")

        return JsonDatabase(url, context, **options)  # type: ignore[no-any-return,unused-ignore]
    raise InvalidQuery(f"unsupported database URL scheme {scheme!r} in {redact_url(url)!r}")


def connect_async(
    url: str, context: Context | None = None, *, native: bool = False, **options: Any
) -> AsyncDatabase:
    """`connect` for asyncio: the same URLs, options, errors and semantics, awaitable.

    ``db.repository(Model)`` gives an `AsyncRepository` (``await repo.get(id)``,
    ``async for obj in repo.iter()``); ``async with db.transaction():``; ``await
    db.close()`` or ``async with connect_async(...) as db:``. See `repositories.asyncdb`.

    Args:
        url: as for `connect`.
        context: as for `connect`.
        native: PostgreSQL only: run on SQLAlchemy's asyncio engine and psycopg 3's async
            driver, every call awaited on the event loop with no thread involved
            (`repositories.sqlasync`). By default the calls run in a bounded pool of
            threads on the synchronous driver, which measured more than twice the
            throughput (``python -m benchmarks.async_repository``).
        **options: as for `connect`.
    """
    if native:
        if _scheme(url) not in ("postgresql", "postgres"):
            raise InvalidQuery("native=True is for PostgreSQL (SQLite and JSON run in threads)")
        if options.get("replicas"):
            raise InvalidQuery("native=True takes no replicas (their lag checks are threaded)")
        from repositories.sqlasync import open_postgres

        return open_postgres(url, context, **options)
    return open_async(connect(url, context, **options))  # type: ignore[arg-type]


def _scheme(url: str) -> str:
    if not isinstance(url, str) or "://" not in url:
        # not echoed: a malformed URL may hold a password anywhere
        raise InvalidQuery(
            "not a database URL: expected postgresql://…, sqlite:///… or jsonfile://…"
        )
    return url.split("://", 1)[0].split("+", 1)[0].lower()
