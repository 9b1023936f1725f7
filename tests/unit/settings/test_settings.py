"""Settings: defaults < config.ini (+ overlay) < environment, the original keys, secrets."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from connectors.secrets import ConfigError, encrypt, generate_key
from connectors.settings import (
    DB_KEY_NAMES,
    database_configs,
    database_urls,
    load_settings,
    redact,
    redact_url,
)
from integrations.tickets.config import JiraConfig
from integrations.voice.config import GoogleConfig

PASSWORD = "s3cr3t:p@ss/word%"  # URL-hostile on purpose


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_configured_runs_on_the_embedded_json_default() -> None:
    assert database_urls() == {name: f"jsonfile://./data/{name}" for name in DB_KEY_NAMES}
    assert set(database_urls()) == {"app", "chat", "management", "realestate"}


def test_original_keys_in_a_sectionless_config_ini(tmp_path: Path) -> None:
    write(
        tmp_path / "config.ini",
        "# the original component's file has no sections\n"
        "DB_APP_HOST = /srv/poweron\n"
        "DB_APP_DATABASE = poweron_app\n"
        "DB_CHAT_HOST = ./store\n"
        "DB_MANAGEMENT_HOST = db.internal:6543\n"
        "DB_MANAGEMENT_DATABASE = mgmt\n"
        "DB_MANAGEMENT_USER = svc\n"
        f"DB_MANAGEMENT_PASSWORD_SECRET = {PASSWORD}\n"
        "DB_REAL_ESTATE_HOST = localhost\n"
        "DB_REAL_ESTATE_PORT = 5433\n"
        "SOME_OTHER_KEY = ignored\n",
    )
    urls = database_urls()
    assert urls["app"] == "jsonfile:///srv/poweron/poweron_app"
    assert urls["chat"] == "jsonfile://store/chat"
    mgmt = make_url(urls["management"])
    assert (mgmt.drivername, mgmt.host, mgmt.port, mgmt.database) == (
        "postgresql+psycopg2",
        "db.internal",
        6543,
        "mgmt",
    )
    assert (mgmt.username, mgmt.password) == ("svc", PASSWORD)
    estate = make_url(urls["realestate"])
    assert (estate.host, estate.port, estate.database) == ("localhost", 5433, "realestate")


def test_sections_and_case_do_not_matter(tmp_path: Path) -> None:
    write(tmp_path / "config.ini", "[Database]\ndb_app_url = sqlite:///app.db\n")
    assert database_urls()["app"] == "sqlite:///app.db"


def test_environment_wins_over_the_file_and_url_wins_over_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "config.ini", "DB_APP_HOST = /from/file\nDB_CHAT_HOST = /from/file\n")
    monkeypatch.setenv("DB_APP_HOST", "/from/env")
    monkeypatch.setenv("DB_CHAT_URL", "sqlite:///chat.db")
    urls = database_urls()
    assert urls["app"] == "jsonfile:///from/env/app"
    assert urls["chat"] == "sqlite:///chat.db"


def test_connectors_config_and_the_environment_overlay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "etc"
    conf.mkdir()
    write(conf / "base.ini", "DB_APP_HOST = /base\nDB_CHAT_HOST = /base\n")
    write(conf / "config.production.ini", "DB_APP_HOST = prod-db:5432\n")
    write(tmp_path / "config.ini", "DB_APP_HOST = /not-this-one\n")
    monkeypatch.setenv("CONNECTORS_CONFIG", str(conf / "base.ini"))
    assert database_urls()["app"] == "jsonfile:///base/app"
    monkeypatch.setenv("CONNECTORS_ENV", "production")
    urls = database_urls()
    assert make_url(urls["app"]).host == "prod-db"
    assert urls["chat"] == "jsonfile:///base/chat"  # the overlay only overrides


def test_explicit_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTORS_CONFIG", "/nope/config.ini")
    with pytest.raises(ConfigError, match="CONNECTORS_CONFIG"):
        load_settings()


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    write(tmp_path / "config.ini", "DB_CHAT_PORT = fivefourthreetwo\n")
    with pytest.raises(ConfigError, match="DB_CHAT_PORT") as err:
        load_settings()
    assert "fivefourthreetwo" not in str(err.value)
    write(tmp_path / "config.ini", "DB_APP_URL = not-a-url\n")
    with pytest.raises(ConfigError, match="DB_APP_URL"):
        load_settings()


def test_fernet_secret_is_decrypted_with_config_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    token = encrypt(PASSWORD, key)
    assert token.startswith("fernet:") and PASSWORD not in token
    write(
        tmp_path / "config.ini",
        f"DB_APP_HOST = pg:5432\nDB_APP_USER = app\nDB_APP_PASSWORD_SECRET = {token}\n",
    )
    monkeypatch.setenv("CONFIG_KEY", key)
    settings = load_settings()
    assert settings.db_app_password_secret is not None
    assert settings.db_app_password_secret.get_secret_value() == PASSWORD
    assert make_url(database_urls(settings)["app"]).password == PASSWORD


@pytest.mark.parametrize("key", [None, "wrong", "other"])
def test_wrong_or_missing_key_names_the_setting_never_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    right = generate_key()
    token = encrypt(PASSWORD, right)
    write(tmp_path / "config.ini", f"DB_CHAT_PASSWORD_SECRET = {token}\n")
    used = {"wrong": "not-a-fernet-key", "other": generate_key(), None: None}[key]
    if used is not None:
        monkeypatch.setenv("CONFIG_KEY", used)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "DB_CHAT_PASSWORD_SECRET" in message
    for secret in (PASSWORD, token, token.removeprefix("fernet:"), right, used or right):
        assert secret not in message
    assert err.value.__cause__ is None or PASSWORD not in str(err.value.__cause__)


def test_secrets_never_reach_repr_logs_or_dumps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    google = '{"type": "service_account", "private_key": "-----BEGIN KEY-----xyz"}'
    key = generate_key()
    monkeypatch.setenv("CONFIG_KEY", key)
    monkeypatch.setenv("Connector_GoogleSpeech_API_KEY_SECRET", google)
    monkeypatch.setenv("DB_APP_URL", f"postgresql://u:{quote(PASSWORD, safe='')}@h/app")
    write(tmp_path / "config.ini", f"DB_CHAT_HOST = h\nDB_CHAT_PASSWORD_SECRET = {PASSWORD}\n")
    with caplog.at_level(logging.DEBUG):
        settings = load_settings()
        configs = database_configs(settings)
    credentials = settings.section(GoogleConfig).credentials
    assert credentials is not None and credentials.get_secret_value() == google
    shown = "\n".join(
        [
            repr(settings),
            str(settings),
            repr(configs),
            repr(settings.section(GoogleConfig)),
            settings.model_dump_json(),
            caplog.text,
            *(c.display_url for c in configs.values()),
            *(redact_url(u) for u in settings.urls().values()),
        ]
    )
    for secret in (PASSWORD, "private_key", key, quote(PASSWORD, safe="")):
        assert secret not in shown, secret


def test_redact_masks_plain_and_url_quoted_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_APP_HOST", "h")
    monkeypatch.setenv("DB_APP_PASSWORD_SECRET", PASSWORD)
    settings = load_settings()
    url = settings.urls()["app"]
    text = redact(f"could not connect to {url} with {PASSWORD}", settings)
    assert PASSWORD not in text and "s3cr3t%3Ap%40ss" not in text
    assert "***" in text


def test_malformed_file_error_does_not_quote_its_lines(tmp_path: Path) -> None:
    write(tmp_path / "config.ini", f"[a]\nDB_APP_PASSWORD_SECRET = {PASSWORD}\n[a\n")
    with pytest.raises(ConfigError, match="malformed") as err:
        load_settings()
    assert PASSWORD not in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{PASSWORD}@h:5432/db",  # unquoted: malformed on purpose
        f"postgresql+psycopg2://u:{quote(PASSWORD, safe='')}@h/db?sslmode=require",
    ],
)
def test_redact_url_hides_the_password_even_in_malformed_urls(url: str) -> None:
    shown = redact_url(url)
    assert PASSWORD not in shown and quote(PASSWORD, safe="") not in shown
    assert shown.startswith("postgresql") and "u:***@" in shown and "/db" in shown


def test_ipv6_host_with_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_CHAT_HOST", "[::1]:6000")
    url = make_url(database_urls()["chat"])
    assert (url.host, url.port, url.database) == ("::1", 6000, "chat")


def test_an_unknown_db_key_is_reported_with_the_key_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "config.ini", "DB_REALESTATE_URL = sqlite:///x.db\n")
    with pytest.raises(ConfigError, match=r"DB_REALESTATE_URL.*did you mean DB_REAL_ESTATE_URL"):
        load_settings()
    (tmp_path / "config.ini").unlink()
    monkeypatch.setenv("DB_APP_PASWORD_SECRET", "x")
    with pytest.raises(ConfigError, match="environment: unknown setting DB_APP_PASWORD_SECRET"):
        load_settings()
    monkeypatch.delenv("DB_APP_PASWORD_SECRET")
    monkeypatch.setenv("DB_HOST", "unrelated.example")  # another program's variable
    assert load_settings().urls()["app"] == "jsonfile://./data/app"


def test_a_missing_overlay_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.ini", "DB_APP_HOST = /base\n")
    monkeypatch.setenv("CONNECTORS_ENV", "prodution")
    with pytest.raises(ConfigError, match=r"CONNECTORS_ENV=prodution: no overlay file .*prodution"):
        load_settings()


def test_a_bad_scheme_names_the_setting_and_masks_only_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_CHAT_URL", f"mysql://svc:{quote(PASSWORD, safe='')}@db.internal/chat")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "DB_CHAT_URL" in message and "mysql://svc:***@db.internal/chat" in message
    assert quote(PASSWORD, safe="") not in message


def test_integration_sections_come_from_the_same_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    write(
        tmp_path / "config.ini",
        "JIRA_API_URL = https://example.atlassian.net\nJIRA_API_USERNAME = me\n"
        f"JIRA_API_TOKEN_SECRET = {encrypt('tok', key)}\nJIRA_PROJECT_CODE = OPS\n",
    )
    monkeypatch.setenv("CONFIG_KEY", key)
    monkeypatch.setenv("JIRA_PROJECT_CODE", "ENV")  # the environment wins
    jira = load_settings().section(JiraConfig)
    assert (jira.project_code, jira.api_token_secret.get_secret_value()) == ("ENV", "tok")
    monkeypatch.delenv("JIRA_PROJECT_CODE")
    write(tmp_path / "config.ini", "JIRA_API_URL = https://example.atlassian.net\n")
    with pytest.raises(ConfigError, match="JIRA_API_USERNAME: Field required"):
        load_settings().section(JiraConfig)
