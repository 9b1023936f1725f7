"""Configuration: defaults < ``config.ini`` (+ an environment overlay) < environment.

The file is ``$CONNECTORS_CONFIG`` if set, else ``./config.ini`` when present; with
``CONNECTORS_ENV=<env>`` the file ``config.<env>.ini`` beside it is read over it
(development, staging, production). Keys are the original component's, case-insensitive,
in any section (or none)::

    DB_<NAME>_URL                  a full URL (wins over the keys below)
    DB_<NAME>_HOST                 a path → jsonfile://<path>/<DATABASE>; host[:port] → PostgreSQL
    DB_<NAME>_DATABASE             database (or store directory) name, default the logical name
    DB_<NAME>_USER                 PostgreSQL user
    DB_<NAME>_PASSWORD_SECRET      PostgreSQL password (may be fernet:…)
    DB_<NAME>_PORT                 default 5432
    CONFIG_KEY                     the Fernet key that decrypts fernet:… values
    Connector_GoogleSpeech_API_KEY_SECRET   the Google service-account JSON itself

with NAME one of APP, CHAT, MANAGEMENT, REAL_ESTATE. Nothing configured: every database
is ``jsonfile://./data/<name>``. Secrets are `SecretStr`; errors name settings, never
values (`ConfigError`).
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from connectors.secrets import ConfigError, decrypt

__all__ = [
    "DATABASES",
    "ConfigError",
    "DatabaseConfig",
    "EnvOverIni",
    "Settings",
    "config_files",
    "database_configs",
    "database_urls",
    "load_integration_settings",
    "load_settings",
    "read_ini",
    "redact",
    "redact_url",
]

#: logical database name -> the NAME used in DB_<NAME>_* keys
DATABASES = {"app": "APP", "chat": "CHAT", "management": "MANAGEMENT", "realestate": "REAL_ESTATE"}
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
#: ``scheme://user:password@`` anywhere in a text (an unquoted password may hold '@')
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s]*@")


class EnvOverIni(BaseSettings):
    """Settings read from the ini files (passed as init values) and the environment,
    which wins over them. Base of `Settings` and of the integrations' settings."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


class Settings(EnvOverIni):
    """Every setting, flat, under the original component's key names (lower-cased)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_prefix="")

    connectors_env: str = "development"
    config_key: SecretStr | None = None
    connector_googlespeech_api_key_secret: SecretStr | None = None

    db_app_url: SecretStr | None = None
    db_app_host: str | None = None
    db_app_database: str | None = None
    db_app_user: str | None = None
    db_app_password_secret: SecretStr | None = None
    db_app_port: int = 5432

    db_chat_url: SecretStr | None = None
    db_chat_host: str | None = None
    db_chat_database: str | None = None
    db_chat_user: str | None = None
    db_chat_password_secret: SecretStr | None = None
    db_chat_port: int = 5432

    db_management_url: SecretStr | None = None
    db_management_host: str | None = None
    db_management_database: str | None = None
    db_management_user: str | None = None
    db_management_password_secret: SecretStr | None = None
    db_management_port: int = 5432

    db_real_estate_url: SecretStr | None = None
    db_real_estate_host: str | None = None
    db_real_estate_database: str | None = None
    db_real_estate_user: str | None = None
    db_real_estate_password_secret: SecretStr | None = None
    db_real_estate_port: int = 5432

    def secret_values(self) -> list[str]:
        """Every non-empty secret (decrypted), for scrubbing text shown to people."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        for url in self.urls().values():
            password = _password(url)
            if password:
                values.append(password)
        return values

    def urls(self) -> dict[str, str]:
        """The URL of each logical database (passwords included: never print these)."""
        return {name: _database_url(self, name) for name in DATABASES}


@dataclass(frozen=True)
class DatabaseConfig:
    """One logical database as configured."""

    name: str
    url: str

    @property
    def scheme(self) -> str:
        """``jsonfile``, ``sqlite`` or ``postgresql``."""
        scheme = self.url.split("://", 1)[0].split("+", 1)[0].lower()
        return "postgresql" if scheme == "postgres" else scheme

    @property
    def is_sql(self) -> bool:
        return self.scheme in ("sqlite", "postgresql")

    @property
    def display_url(self) -> str:
        """The URL with its password masked."""
        return redact_url(self.url)


def config_files(config: str | Path | None = None, env: str | None = None) -> list[Path]:
    """The ini files read, base first: ``config.ini`` then ``config.<env>.ini``."""
    explicit = config or os.environ.get("CONNECTORS_CONFIG")
    base = Path(explicit) if explicit else Path("config.ini")
    if explicit and not base.is_file():
        source = "--config" if config else "CONNECTORS_CONFIG"
        raise ConfigError(f"{source}: no config file at {base}")
    env = env or os.environ.get("CONNECTORS_ENV") or ""
    files = [base] if base.is_file() else []
    if env:
        overlay = base.with_name(f"config.{env}.ini")
        if overlay.is_file():
            files.append(overlay)
    return files


def read_ini(paths: Iterable[Path]) -> dict[str, str]:
    """Every key of the ini files (lower-cased; later files win)."""
    values: dict[str, str] = {}
    for path in paths:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str.lower  # type: ignore[assignment,method-assign]
        try:
            text = path.read_text(encoding="utf-8")
            if not re.match(r"\s*(#.*\n\s*|;.*\n\s*)*\[", text):
                text = "[connectors]\n" + text  # the original config.ini has no sections
            parser.read_string(text, source=str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file ({type(exc).__name__})") from None
        except configparser.Error as exc:
            # the parser's message may quote a line holding a secret: name the line only
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            raise ConfigError(f"{path}: malformed config file{where}") from None
        values.update(parser.defaults())
        for section in parser.sections():
            values.update({k: v for k, v in parser.items(section)})
    return values


S = TypeVar("S", bound=EnvOverIni)


def _build(cls: type[S], ini: dict[str, str]) -> S:
    """`cls` from the ini values under its ``env_prefix`` and the environment."""
    prefix = str(cls.model_config.get("env_prefix") or "").lower()
    known = {
        k[len(prefix) :]: v
        for k, v in ini.items()
        if k.startswith(prefix) and k[len(prefix) :] in cls.model_fields
    }
    try:
        factory: Any = cls  # the keys are checked against model_fields above
        settings: S = factory(**known)
    except ValidationError as exc:
        problems = "; ".join(
            f"{prefix.upper()}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"invalid settings: {problems}") from None
    return settings


def _decrypted(settings: S, key: SecretStr | None) -> S:
    """`settings` with every ``fernet:`` secret (but the key itself) decrypted."""
    prefix = str(settings.model_config.get("env_prefix") or "")
    plain_key = key.get_secret_value() if key else None
    updates: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name != "config_key" and isinstance(value, SecretStr):
            setting = f"{prefix}{name}".upper()
            updates[name] = SecretStr(decrypt(value.get_secret_value(), plain_key, setting))
    return settings.model_copy(update=updates)


def load_settings(config: str | Path | None = None, env: str | None = None) -> Settings:
    """Read and resolve the settings (files, then environment), decrypting secrets.

    Args:
        config: the base ini file (default ``$CONNECTORS_CONFIG`` or ``./config.ini``).
        env: the environment overlay name (default ``$CONNECTORS_ENV``).

    Raises:
        ConfigError: a bad value, an unreadable file, or a secret that cannot be decrypted;
            the message names the setting, never a secret.
    """
    settings = _build(Settings, read_ini(config_files(config, env)))
    settings = _decrypted(settings, settings.config_key)
    for name in DATABASES:  # resolve now so a bad URL fails at start-up
        _database_url(settings, name)
    return settings


def load_integration_settings(
    cls: type[S], config: str | Path | None = None, env: str | None = None
) -> S:
    """An integration's settings (`cls`: an `EnvOverIni` with an ``env_prefix``) from the
    same ini files and environment as `load_settings`; its ``fernet:`` secrets are
    decrypted with ``CONFIG_KEY``.

    Raises:
        ConfigError: a missing or bad value, or a secret that cannot be decrypted; the
            message names the setting, never a secret.
    """
    ini = read_ini(config_files(config, env))
    return _decrypted(_build(cls, ini), _build(Settings, ini).config_key)


def _is_path(host: str) -> bool:
    return (
        host.startswith((".", "/", "~", "\\"))
        or "/" in host
        or "\\" in host
        or bool(_WINDOWS_PATH.match(host))
    )


def _database_url(settings: Settings, name: str) -> str:
    key = DATABASES[name].lower()
    url: SecretStr | None = getattr(settings, f"db_{key}_url")
    if url is not None and url.get_secret_value():
        text = url.get_secret_value()
        if "://" not in text:
            raise ConfigError(f"DB_{key.upper()}_URL is not a URL (expected scheme://…)")
        return text
    host: str | None = getattr(settings, f"db_{key}_host")
    database: str = getattr(settings, f"db_{key}_database") or name
    if not host:
        return f"jsonfile://./data/{name}"
    if _is_path(host):
        return f"jsonfile://{Path(host).expanduser().as_posix().rstrip('/')}/{database}"
    if host.startswith("["):  # [IPv6]:port
        hostname, _, rest = host[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        hostname, _, port_text = host.partition(":")
    port: int = getattr(settings, f"db_{key}_port")
    if port_text:
        if not port_text.isdigit():
            raise ConfigError(f"DB_{key.upper()}_HOST: port must be a number in host[:port]")
        port = int(port_text)
    password: SecretStr | None = getattr(settings, f"db_{key}_password_secret")
    built = URL.create(
        "postgresql+psycopg2",
        username=getattr(settings, f"db_{key}_user") or None,
        password=password.get_secret_value() if password else None,
        host=hostname,
        port=port,
        database=database,
    )
    return built.render_as_string(hide_password=False)


def _password(url: str) -> str | None:
    if url.startswith("jsonfile:"):
        return None
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):  # an unparsable URL has no password to find
        return None


def database_configs(settings: Settings | None = None) -> dict[str, DatabaseConfig]:
    """The `DatabaseConfig` of each logical database."""
    settings = settings or load_settings()
    return {name: DatabaseConfig(name, url) for name, url in settings.urls().items()}


def database_urls(settings: Settings | None = None) -> dict[str, str]:
    """The URL of each logical database (keys app, chat, management, realestate).

    Used by Alembic's env.py; the URLs carry passwords: never print them, use
    `redact_url`.
    """
    return (settings or load_settings()).urls()


def redact_url(url: str) -> str:
    """`url` with any password replaced by ``***`` (even in a malformed URL)."""
    scheme, sep, rest = url.partition("://")
    if not sep or rest.startswith("/"):
        return url  # jsonfile paths, sqlite files: no user info
    head = rest.split("?", 1)[0]
    at = head.rfind("@")  # an unquoted password may itself contain '@' or '/'
    if at == -1:
        return url
    user, colon, _ = head[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}"


def redact(text: str, settings: Settings | None) -> str:
    """`text` with URL passwords and every configured secret (plain or URL-quoted) masked."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    if settings is None:
        return text
    from urllib.parse import quote, quote_plus

    for secret in sorted(settings.secret_values(), key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form:
                text = text.replace(form, "***")
    return text
