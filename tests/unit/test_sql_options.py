"""The SQL options (pool, timeouts, application name, replicas): validated once, named
in every refusal, turned into the driver's connection parameters."""

from __future__ import annotations

from typing import Any

import pytest

from repositories import InvalidQuery, connect
from repositories.sqloptions import SqlOptions


def test_defaults_and_connection_parameters() -> None:
    options = SqlOptions.of(
        pool_size=3, connect_timeout=2.5, statement_timeout=1.5, application_name="api-app"
    )
    assert options.overflow == 3  # as many again under load, unless told
    assert options.connect_args() == {
        "connect_timeout": 3,
        "application_name": "api-app",
        "options": "-c statement_timeout=1500",
    }
    assert SqlOptions.of(max_overflow=0).overflow == 0
    assert SqlOptions.of().connect_args() == {"connect_timeout": 10}


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"pool_sise": 3}, "unknown SQL database option 'pool_sise'"),
        ({"pool_size": 0}, "pool_size"),
        ({"pool_size": True}, "pool_size"),
        ({"max_overflow": -1}, "max_overflow"),
        ({"statement_timeout": float("nan")}, "statement_timeout"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"read_your_writes": "5"}, "read_your_writes"),
        ({"application_name": "x\n"}, "application_name"),
        ({"application_name": "x" * 64}, "application_name"),
        ({"replicas": "postgresql://r/x"}, "replicas"),
        ({"replicas": ["sqlite:///x.db"]}, "PostgreSQL"),
        ({"replicas": ["postgresql://u:hunter2@r/x", 5]}, "replicas"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidQuery, match=named) as caught:
        SqlOptions.of(**options)
    assert "hunter2" not in str(caught.value)


def test_sqlite_has_no_replicas(tmp_path: Any) -> None:
    with pytest.raises(InvalidQuery, match="SQLite"):
        connect(f"sqlite:///{tmp_path / 'x.db'}", replicas=["postgresql://r/x"])


def test_sql_options_on_a_json_store_are_named(tmp_path: Any) -> None:
    with pytest.raises(InvalidQuery, match="unknown JSON store option 'replicas'"):
        connect(f"jsonfile://{tmp_path}", replicas=["postgresql://r/x"])
