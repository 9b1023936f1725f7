"""The operational options of a SQL database: pool, timeouts, application name, replicas.

``connect(url, pool_size=10, statement_timeout=30, replicas=[...])`` (or the
``DB_<NAME>_…`` settings, see `connectors.settings`) end up here, validated once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from repositories.errors import InvalidQuery
from repositories.urls import redact_url
from repositories.values import short

__all__ = ["SqlOptions"]


@dataclass(frozen=True, slots=True)
class SqlOptions:
    """How one SQL database is connected to.

    Attributes:
        pool_size: connections kept open per process (primary, and each replica).
        max_overflow: connections opened beyond `pool_size` under load (default: as many).
        pool_timeout: seconds to wait for a free connection before `BackendUnavailable`.
        connect_timeout: seconds to wait for the server to answer a new connection.
        statement_timeout: seconds after which PostgreSQL cancels a statement
            (`StatementTimeout`); None: the server's setting. Sent as a startup parameter,
            which PgBouncer does not pass: behind it, set it on the role instead.
        application_name: shown in ``pg_stat_activity`` and the server's logs.
        replicas: URLs of read replicas (streaming standbys of this database).
        read_your_writes: seconds after a context's own write during which its reads
            stay on the primary (at least one second is always kept, so the repository's
            own reads that settle a write whose connection dropped see the primary).
        replica_max_lag: a replica further behind than this many seconds is skipped.
        replica_check_interval: seconds between two checks of a replica's lag.
    """

    pool_size: int = 5
    max_overflow: int | None = None
    pool_timeout: float = 30.0
    connect_timeout: float | None = 10.0
    statement_timeout: float | None = None
    application_name: str | None = None
    replicas: tuple[str, ...] = ()
    read_your_writes: float = 5.0
    replica_max_lag: float = 5.0
    replica_check_interval: float = 1.0

    @classmethod
    def of(cls, **options: Any) -> SqlOptions:
        """Validated options (`InvalidQuery` naming the option on a bad or unknown one)."""
        known = {f.name for f in fields(cls)}
        for name in options:
            if name not in known:
                raise InvalidQuery(
                    f"unknown SQL database option {name!r}; known: {', '.join(sorted(known))}"
                )
        values = {k: v for k, v in options.items() if v is not None or k in _NULLABLE}
        for name in ("pool_size", "max_overflow"):
            if name in values and values[name] is not None:
                values[name] = _count(name, values[name], 1 if name == "pool_size" else 0)
        for name in (
            "pool_timeout",
            "connect_timeout",
            "statement_timeout",
            "read_your_writes",
            "replica_max_lag",
            "replica_check_interval",
        ):
            if name in values and values[name] is not None:
                values[name] = _seconds(name, values[name])
        if values.get("application_name") is not None:
            values["application_name"] = _name(values["application_name"])
        if "replicas" in values:
            values["replicas"] = _urls(values["replicas"])
        return cls(**values)

    @property
    def overflow(self) -> int:
        return self.pool_size if self.max_overflow is None else self.max_overflow

    def connect_args(self, driver: str = "psycopg2") -> dict[str, Any]:
        """libpq connection parameters (psycopg2 and psycopg alike).

        psycopg 3 prepares a statement on the server after a few runs: session state
        that a pooler in transaction mode (PgBouncer) loses between transactions, so it
        is turned off (psycopg2 prepares nothing).
        """
        args: dict[str, Any] = {"prepare_threshold": None} if driver == "psycopg" else {}
        if self.connect_timeout is not None:
            args["connect_timeout"] = max(1, math.ceil(self.connect_timeout))
        if self.application_name is not None:
            args["application_name"] = self.application_name
        if self.statement_timeout is not None:
            args["options"] = f"-c statement_timeout={math.ceil(self.statement_timeout * 1000)}"
        return args


_NULLABLE = ("max_overflow", "connect_timeout", "statement_timeout", "application_name")


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 10_000:
        raise InvalidQuery(
            f"{name} must be a whole number from {minimum} to 10000, not {short(value)}"
        )
    return value


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidQuery(f"{name} must be a number of seconds, not {short(value)}")
    if not (math.isfinite(value) and 0 <= value <= 86_400):
        raise InvalidQuery(f"{name} must be from 0 to 86400 seconds, not {short(value)}")
    return float(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.isprintable() or not value.isascii():
        raise InvalidQuery(f"application_name must be printable ASCII text, not {short(value)}")
    if len(value) > 63:  # PostgreSQL truncates at NAMEDATALEN - 1
        raise InvalidQuery(f"application_name is at most 63 characters, not {len(value)}")
    return value


def _urls(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidQuery("replicas must be a list of database URLs")
    out = []
    for url in value:
        if not isinstance(url, str) or "://" not in url:
            raise InvalidQuery("replicas must be a list of database URLs")
        scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("postgresql", "postgres"):
            raise InvalidQuery(f"a replica must be a PostgreSQL URL, not {redact_url(url)!r}")
        out.append(url)
    return tuple(out)
