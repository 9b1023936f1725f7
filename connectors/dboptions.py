"""The operational settings of each logical database, as `repositories.connect` options.

Keys (``NAME`` as in ``DB_<NAME>_URL``), all optional, PostgreSQL only::

    DB_<NAME>_REPLICA_URLS       read replicas: URLs separated by commas or spaces
    DB_<NAME>_POOL_SIZE          connections kept open per process (default 5)
    DB_<NAME>_MAX_OVERFLOW       extra connections under load (default: POOL_SIZE)
    DB_<NAME>_POOL_TIMEOUT       seconds to wait for a free connection (default 30)
    DB_<NAME>_CONNECT_TIMEOUT    seconds to wait for the server to answer (default 10)
    DB_<NAME>_STATEMENT_TIMEOUT  seconds before the server cancels a statement (not
                                 through PgBouncer: set it on the role there)
    DB_<NAME>_APPLICATION_NAME   shown in pg_stat_activity (default connectors-<name>)
    DB_<NAME>_READ_YOUR_WRITES   seconds a context's reads stay on the primary after
                                 its own write (default 5)
    DB_<NAME>_REPLICA_MAX_LAG    seconds behind after which a replica is skipped (default 5)

A bad value is a `ConfigError` naming the key (and never a replica's password).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from connectors.secrets import ConfigError
from repositories.errors import InvalidQuery
from repositories.sqloptions import SqlOptions
from repositories.urls import mask_passwords

__all__ = ["OPTION_SUFFIXES", "database_options", "replica_urls"]


def _whole(text: str) -> int:
    return int(text)


#: key suffix -> (connect() option, parser of the text)
_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "replica_urls": ("replicas", lambda text: list(replica_urls(text))),
    "pool_size": ("pool_size", _whole),
    "max_overflow": ("max_overflow", _whole),
    "pool_timeout": ("pool_timeout", float),
    "connect_timeout": ("connect_timeout", float),
    "statement_timeout": ("statement_timeout", float),
    "application_name": ("application_name", str),
    "read_your_writes": ("read_your_writes", float),
    "replica_max_lag": ("replica_max_lag", float),
}
OPTION_SUFFIXES = tuple(_OPTIONS)


def replica_urls(text: str) -> tuple[str, ...]:
    """The URLs of a ``DB_<NAME>_REPLICA_URLS`` value."""
    return tuple(u for u in re.split(r"[\s,]+", text.strip()) if u)


def database_options(values: Mapping[str, str], key: str, name: str, scheme: str) -> dict[str, Any]:
    """The connect() options of one logical database from the settings' values.

    Args:
        values: every setting read (lower-cased keys).
        key: the database's key name, lower-cased (``real_estate`` for ``DB_REAL_ESTATE_…``).
        name: the logical name (``realestate``), for the default application name.
        scheme: the database URL's scheme (``postgresql``, ``sqlite``, ``jsonfile``).

    Raises:
        ConfigError: a value that does not parse or validate, or a key set for a database
            that is not PostgreSQL.
    """
    options: dict[str, Any] = {}
    for suffix, (option, parse) in _OPTIONS.items():
        setting = f"db_{key}_{suffix}"
        raw = values.get(setting)
        if raw is None or not raw.strip():
            continue
        if scheme != "postgresql":
            raise ConfigError(
                f"{setting.upper()}: applies to PostgreSQL databases only "
                f"(DB_{key.upper()} is {scheme})"
            )
        try:
            options[option] = parse(raw.strip())
            SqlOptions.of(**{option: options[option]})
        except (ValueError, InvalidQuery) as exc:
            raise ConfigError(f"{setting.upper()}: {mask_passwords(str(exc))}") from None
    if scheme == "postgresql":
        options.setdefault("application_name", f"connectors-{name}")
    return options
