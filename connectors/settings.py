"""Configuration: defaults < ``config.ini`` (+ an environment overlay) < environment.

The layer below the CLI: the migrations and the CLI read it; it imports nothing of the
CLI, and the integrations never import it (each defines its own settings model, a
`Section`, which `Settings.section` builds from the same values).

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

with NAME one of APP, CHAT, MANAGEMENT, REAL_ESTATE, plus the integrations' keys
(``JIRA_…``, ``CLICKUP_…``, ``Connector_GoogleSpeech_API_KEY_SECRET``). Nothing
configured: every database is ``jsonfile://./data/<name>``. Secrets are `SecretStr`;
errors name settings, never values (`ConfigError`). An unknown ``DB_…`` key is an error
that suggests the key meant.
"""

from __future__ import annotations

import configparser
import contextlib
import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr, ValidationError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from connectors.dboptions import OPTION_SUFFIXES, database_options, replica_urls
from connectors.secrets import ConfigError, decrypt
from repositories.urls import mask_passwords, redact_url

__all__ = [
    "DB_KEY_NAMES",
    "ConfigError",
    "DatabaseConfig",
    "Section",
    "Settings",
    "config_files",
    "database_configs",
    "database_urls",
    "load_settings",
    "read_ini",
    "redact",
    "redact_url",
]

#: logical database name -> the NAME used in its DB_<NAME>_* keys
DB_KEY_NAMES = {
    "app": "APP",
    "chat": "CHAT",
    "management": "MANAGEMENT",
    "realestate": "REAL_ESTATE",
}
_DB_KEY_SUFFIXES = (
    "url",
    "host",
    "database",
    "user",
    "password_secret",
    "port",
    *OPTION_SUFFIXES,  # pool, timeouts, replicas: `connectors.dboptions`
)
_DB_KEY_ENDINGS = tuple(f"_{s}" for s in _DB_KEY_SUFFIXES)
_DB_KEY_STARTS = tuple(f"db_{n.lower()}_" for n in DB_KEY_NAMES.values())
_SCHEMES = ("jsonfile", "sqlite", "postgresql", "postgres")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


class Section(Protocol):
    """An integration's settings model: a pydantic model whose fields are read from the
    keys ``<config_prefix><FIELD>`` (e.g. ``JIRA_API_URL`` for `api_url`)."""

    config_prefix: ClassVar[str]
    model_fields: ClassVar[dict[str, Any]]


M = TypeVar("M", bound=BaseModel)


class Settings(BaseModel):
    """The core settings, flat, under the original component's key names (lower-cased),
    and the values every integration section is built from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    connectors_env: str = "development"
    config_key: SecretStr | None = None

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

    #: every key/value read (lower-cased keys; files, then the environment)
    _values: dict[str, str] = PrivateAttr(default_factory=dict)

    def section(self, cls: type[M]) -> M:
        """An integration's settings (`cls`, a `Section`) from the same values; its
        ``fernet:`` secrets decrypted with ``CONFIG_KEY``.

        Raises:
            ConfigError: a missing or bad value, or a secret that cannot be decrypted; the
                message names the setting, never its value.
        """
        prefix = str(getattr(cls, "config_prefix", "")).lower()
        picked = {
            name: self._values[prefix + name]
            for name in cls.model_fields
            if prefix + name in self._values
        }
        return _decrypted(_validated(cls, picked, prefix), self.config_key)

    def secret_values(self) -> list[str]:
        """Every non-empty secret (decrypted where possible), to scrub text shown to people.

        Covers the core secrets, database passwords, and every ``…_SECRET`` key of any
        integration, read or not.
        """
        values = [  # a URL's secret is its password (below), not the whole URL
            v.get_secret_value()
            for name in type(self).model_fields
            if not name.endswith("_url")
            and isinstance(v := getattr(self, name), SecretStr)
            and v.get_secret_value()
        ]
        plain_key = self.config_key.get_secret_value() if self.config_key else None
        for key, raw in self._values.items():
            if key.endswith("_secret") and raw:
                values.append(raw)
                # not decryptable: the token itself is masked all the same
                with contextlib.suppress(ConfigError):
                    values.append(decrypt(raw, plain_key, key.upper()))
        replicas = [
            url
            for key in DB_KEY_NAMES.values()
            for url in replica_urls(self._values.get(f"db_{key.lower()}_replica_urls") or "")
        ]
        for url in [*self.urls().values(), *replicas]:
            password = _password(url)
            if password:
                values.append(password)
        return [v for v in dict.fromkeys(values) if v]

    def urls(self) -> dict[str, str]:
        """The URL of each logical database (passwords included: never print these)."""
        return {name: _database_url(self, name) for name in DB_KEY_NAMES}

    def databases(self) -> dict[str, DatabaseConfig]:
        """The `DatabaseConfig` of each logical database (URL and connect options)."""
        configs = {}
        for name, url in self.urls().items():
            config = DatabaseConfig(name, url)
            options = database_options(
                self._values, DB_KEY_NAMES[name].lower(), name, config.scheme
            )
            configs[name] = DatabaseConfig(name, url, options)
        return configs


@dataclass(frozen=True)
class DatabaseConfig:
    """One logical database as configured (its repr masks the password)."""

    name: str
    url: str
    #: `repositories.connect` options from the ``DB_<NAME>_…`` keys (`connectors.dboptions`)
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)

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

    @property
    def replicas(self) -> tuple[str, ...]:
        return tuple(self.options.get("replicas", ()))

    def __repr__(self) -> str:
        replicas = ", ".join(redact_url(u) for u in self.replicas)
        extra = f", replicas=[{replicas}]" if replicas else ""
        return f"DatabaseConfig(name={self.name!r}, url={self.display_url!r}{extra})"

    __str__ = __repr__


def config_files(config: str | Path | None = None, env: str | None = None) -> list[Path]:
    """The ini files read, base first: ``config.ini`` then ``config.<env>.ini``.

    Raises:
        ConfigError: an explicit config file (``--config``, ``CONNECTORS_CONFIG``) or an
            explicit environment overlay (``--env``, ``CONNECTORS_ENV``) does not exist.
    """
    explicit = config or os.environ.get("CONNECTORS_CONFIG")
    base = Path(explicit) if explicit else Path("config.ini")
    if explicit and not base.is_file():
        source = "--config" if config else "CONNECTORS_CONFIG"
        raise ConfigError(f"{source}: no config file at {base}")
    env = env or os.environ.get("CONNECTORS_ENV") or ""
    files = [base] if base.is_file() else []
    if env and files:
        overlay = base.with_name(f"config.{env}.ini")
        if not overlay.is_file():
            source = "--env" if env and not os.environ.get("CONNECTORS_ENV") else "CONNECTORS_ENV"
            raise ConfigError(f"{source}={env}: no overlay file at {overlay}")
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


def _validated(cls: type[M], values: Mapping[str, Any], prefix: str) -> M:
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{prefix.upper()}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def _decrypted(settings: M, key: SecretStr | None) -> M:
    """`settings` with every ``fernet:`` secret (but the key itself) decrypted."""
    prefix = str(getattr(settings, "config_prefix", ""))
    plain_key = key.get_secret_value() if key else None
    updates: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name != "config_key" and isinstance(value, SecretStr):
            setting = f"{prefix}{name}".upper()
            updates[name] = SecretStr(decrypt(value.get_secret_value(), plain_key, setting))
    return settings.model_copy(update=updates)


def _check_db_keys(values: Mapping[str, str], origin: Mapping[str, str]) -> None:
    """An unknown ``DB_…`` key is a typo: name it and the key it most likely meant.

    Every ``DB_…`` key of a config file counts; from the environment only keys shaped like
    ours (a known NAME or a known ending), since a container may carry an unrelated
    ``DB_HOST``.
    """
    known = [f"db_{n.lower()}_{s}" for n in DB_KEY_NAMES.values() for s in _DB_KEY_SUFFIXES]
    for key in values:
        if not key.startswith("db_") or key in known:
            continue
        ours = key.endswith(_DB_KEY_ENDINGS) or key.startswith(_DB_KEY_STARTS)
        if origin[key] == "environment" and (key.count("_") < 2 or not ours):
            continue
        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" (did you mean {guess[0].upper()}?)" if guess else ""
        raise ConfigError(f"{origin[key]}: unknown setting {key.upper()}{hint}")


def load_settings(config: str | Path | None = None, env: str | None = None) -> Settings:
    """Read and resolve the settings once (files, then environment), decrypting secrets.

    Args:
        config: the base ini file (default ``$CONNECTORS_CONFIG`` or ``./config.ini``).
        env: the environment overlay name (default ``$CONNECTORS_ENV``).

    Raises:
        ConfigError: a bad or unknown value, an unreadable file, or a secret that cannot
            be decrypted; the message names the setting, never a secret.
    """
    files = config_files(config, env)
    values = read_ini(files)
    origin = dict.fromkeys(values, ", ".join(str(f) for f in files))
    environment = {k.lower(): v for k, v in os.environ.items()}
    for key in list(environment):
        if key.startswith("db_"):
            origin[key] = "environment"
    values.update(environment)
    _check_db_keys({k: v for k, v in values.items() if k.startswith("db_")}, origin)
    core = {k: v for k, v in values.items() if k in Settings.model_fields}
    settings = _decrypted(_validated(Settings, core, ""), _key(core))
    settings._values.update(values)
    for name in DB_KEY_NAMES:  # resolve now so a bad URL fails at start-up
        _database_url(settings, name)
    return settings


def _key(core: Mapping[str, str]) -> SecretStr | None:
    key = core.get("config_key")
    return SecretStr(key) if key else None


def _is_path(host: str) -> bool:
    return (
        host.startswith((".", "/", "~", "\\"))
        or "/" in host
        or "\\" in host
        or bool(_WINDOWS_PATH.match(host))
    )


def _database_url(settings: Settings, name: str) -> str:
    key = DB_KEY_NAMES[name].lower()
    url: SecretStr | None = getattr(settings, f"db_{key}_url")
    if url is not None and url.get_secret_value():
        text = url.get_secret_value()
        scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
        if scheme not in _SCHEMES:
            shown = redact_url(text) if "://" in text else "(not a URL)"
            raise ConfigError(
                f"DB_{key.upper()}_URL: {shown}: expected a URL starting with "
                + ", ".join(f"{s}://" for s in _SCHEMES[:3])
            )
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
    """The `DatabaseConfig` of each logical database (default: `load_settings()`)."""
    return (settings or load_settings()).databases()


def database_urls(settings: Settings | None = None) -> dict[str, str]:
    """The URL of each logical database (keys app, chat, management, realestate).

    Used by Alembic's env.py; the URLs carry passwords: never print them, use
    `redact_url`.
    """
    return (settings or load_settings()).urls()


def redact(text: str, settings: Settings | None) -> str:
    """`text` with URL passwords and every configured secret (plain or URL-quoted) masked."""
    text = mask_passwords(text)
    if settings is None:
        return text
    for secret in sorted(settings.secret_values(), key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form:
                text = text.replace(form, "***")
    return text
