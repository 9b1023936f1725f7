"""DB_<NAME>_… operational keys: pool, timeouts, application name, read replicas."""

from __future__ import annotations

import pytest

from connectors.settings import ConfigError, load_settings

PRIMARY = "postgresql://app:s3cret@db-primary:5432/app"


def test_options_reach_the_database_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_APP_URL", PRIMARY)
    monkeypatch.setenv(
        "DB_APP_REPLICA_URLS",
        "postgresql://app:r3plica@db-r1/app, postgresql://app:r3plica@db-r2/app",
    )
    monkeypatch.setenv("DB_APP_POOL_SIZE", "12")
    monkeypatch.setenv("DB_APP_MAX_OVERFLOW", "0")
    monkeypatch.setenv("DB_APP_STATEMENT_TIMEOUT", "2.5")
    monkeypatch.setenv("DB_APP_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("DB_APP_READ_YOUR_WRITES", "8")
    monkeypatch.setenv("DB_APP_REPLICA_MAX_LAG", "1.5")
    monkeypatch.setenv("DB_CHAT_URL", PRIMARY)
    settings = load_settings()
    app = settings.databases()["app"]
    assert app.options == {
        "replicas": ["postgresql://app:r3plica@db-r1/app", "postgresql://app:r3plica@db-r2/app"],
        "pool_size": 12,
        "max_overflow": 0,
        "statement_timeout": 2.5,
        "connect_timeout": 3.0,
        "read_your_writes": 8.0,
        "replica_max_lag": 1.5,
        "application_name": "connectors-app",
    }
    assert "r3plica" not in repr(app) and "db-r2" in repr(app)
    assert "r3plica" in settings.secret_values()  # masked wherever text is shown
    assert settings.databases()["chat"].options == {"application_name": "connectors-chat"}
    assert settings.databases()["management"].options == {}  # a JSON store: nothing to pool


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("DB_APP_POOL_SIZE", "many", "DB_APP_POOL_SIZE"),
        ("DB_APP_POOL_SIZE", "0", "DB_APP_POOL_SIZE: pool_size"),
        ("DB_APP_STATEMENT_TIMEOUT", "-1", "DB_APP_STATEMENT_TIMEOUT"),
        ("DB_APP_APPLICATION_NAME", "x" * 80, "DB_APP_APPLICATION_NAME"),
        ("DB_APP_REPLICA_URLS", "sqlite:///x.db", "DB_APP_REPLICA_URLS"),
        ("DB_APP_POOL_SIZ", "3", "did you mean DB_APP_POOL_SIZE"),
    ],
)
def test_bad_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, message: str
) -> None:
    monkeypatch.setenv("DB_APP_URL", PRIMARY)
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings().databases()


def test_pool_keys_on_a_json_store_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_APP_POOL_SIZE", "5")  # app is the embedded JSON store
    with pytest.raises(ConfigError, match="PostgreSQL databases only"):
        load_settings().databases()
