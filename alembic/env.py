"""Alembic environment, following Alembic's ``multidb`` template.

Each logical database (app, chat, management, realestate) is migrated on its own
connection with its own version table (``alembic_version_<name>``), so all four may
share one PostgreSQL database without clashing. URLs come from
`connectors.settings.database_urls()` (environment / config.ini), never alembic.ini.
A configuration or connection problem is one line (Alembic's ``FAILED: …``), secrets
masked, not a traceback.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.util import CommandError
from sqlalchemy import MetaData, create_engine, pool, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from connectors.settings import database_urls
from models import DATABASES
from models.errors import ConnectorsError
from models.tables import SYSTEM_TABLE, metadata_for
from repositories.urls import engine_url, mask_passwords

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

names = [n.strip() for n in (config.get_main_option("databases") or "").split(",") if n.strip()]
selected = context.get_x_argument(as_dictionary=True).get("db")
if selected:
    wanted = {s.strip() for s in selected.split(",")}
    unknown = wanted - set(names)
    if unknown:
        raise SystemExit(f"unknown database(s) {sorted(unknown)}; known: {names}")
    names = [n for n in names if n in wanted]

#: tests and the CLI may pass URLs directly: config.attributes["urls"] = {"app": url}


def _configured_urls() -> dict[str, str]:
    try:
        return database_urls()
    except ConnectorsError as exc:  # names the setting, never its value
        raise CommandError(str(exc)) from None


urls: dict[str, str] = config.attributes.get("urls") or _configured_urls()
#: one PostgreSQL advisory lock for every upgrade of this schema: two upgrades started at
#: once (two deploys, two replicas starting) run one after the other instead of racing
#: on CREATE TABLE; the logical databases may share a database (and its `_system` table)
MIGRATION_LOCK = 0x636F6E6E  # "conn"
target_metadata: dict[str, MetaData] = {name: metadata_for(DATABASES[name]) for name in names}


def _sql_databases() -> list[tuple[str, str]]:
    chosen = []
    for name in names:
        url = urls.get(name, "")
        if not url or url.startswith("jsonfile"):
            logger.info("skipping %s: %s is not a SQL database", name, url or "no URL")
            continue
        chosen.append((name, url))
    return chosen


def _include_name(metadata: MetaData) -> Any:
    def include(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "table":
            # other logical databases may share this database: only our tables count
            return name in metadata.tables or name == SYSTEM_TABLE
        return True

    return include


def _configure(name: str, **kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata[name],
        version_table=f"alembic_version_{name}",
        upgrade_token=f"{name}_upgrades",
        downgrade_token=f"{name}_downgrades",
        include_name=_include_name(target_metadata[name]),
        compare_type=True,
        render_as_batch=kwargs.pop("render_as_batch", False),
        **kwargs,
    )


def run_migrations_offline() -> None:
    for name, url in _sql_databases():
        logger.info("migrating %s (offline)", name)
        _configure(name, url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
        with context.begin_transaction():
            context.run_migrations(engine_name=name)


def _one_line(name: str, exc: SQLAlchemyError) -> CommandError:
    """A driver error as Alembic's one-line failure (first line, passwords masked)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return CommandError(f"{name}: {mask_passwords(first)}")


def run_migrations_online() -> None:
    for name, url in _sql_databases():
        logger.info("migrating %s", name)
        try:
            engine = create_engine(engine_url(url), poolclass=pool.NullPool)
        except ConnectorsError as exc:
            raise CommandError(f"{name}: {exc}") from None
        try:
            with engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    # held until the commit below: migrations run in that one transaction
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                    )
                _configure(
                    name,
                    connection=connection,
                    render_as_batch=connection.dialect.name == "sqlite",
                )
                with context.begin_transaction():
                    context.run_migrations(engine_name=name)
                connection.commit()
        except SQLAlchemyError as exc:
            raise _one_line(name, exc) from exc
        finally:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
