"""Schema upgrade and checks: Alembic for SQL databases, the layout for JSON stores.

``connectors db upgrade`` and ``db check`` (and the demo) go through here. Alembic runs
programmatically on the migration scripts shipped inside the package
(``connectors/migrations`` in a wheel, ``alembic/`` in a checkout), with no ini file, and
the URLs passed to env.py directly (``config.attributes["urls"]``), one logical database
at a time (``-x db=<name>``). ``python -m connectors.migrate …`` is Alembic's own command
line on those scripts (``upgrade head``, ``current``, ``history``, ``downgrade``…), for a
service that migrates from its own deployment::

    MigrationError      a migration failed, or models and schema drift
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models import DATABASES
from models.errors import ConnectorsError, ExitCode
from repositories import connect
from repositories.errors import InvalidQuery
from repositories.urls import engine_url

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["CheckResult", "MigrationError", "alembic_config", "check", "main", "upgrade"]


class MigrationError(ConnectorsError):
    """Alembic could not run, or the schema does not match the models."""

    exit_code = ExitCode.DAMAGED


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one logical database."""

    name: str
    ok: bool
    detail: str
    #: each read replica's state (`repositories.replicas.ReplicaSet.status`)
    replicas: tuple[dict[str, Any], ...] = ()


def script_location() -> Path:
    """The migration scripts: package data of an installed wheel, else the checkout's
    ``alembic/`` beside the packages.

    Raises:
        MigrationError: neither is there (a broken install).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "migrations", here.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationError(f"the migration scripts are missing beside {here} (broken install?)")


def alembic_config(
    urls: dict[str, str] | None = None, cmd_opts: argparse.Namespace | None = None
) -> Config:
    """An Alembic `Config` on the packaged scripts and every logical database, without a
    file. `urls` (logical name -> URL) replaces the configured ones."""
    from alembic.config import Config

    cfg = Config(cmd_opts=cmd_opts or argparse.Namespace(x=[]), stdout=io.StringIO())
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("databases", ", ".join(DATABASES))
    if urls is not None:
        cfg.attributes["urls"] = urls
    cfg.attributes["configure_logger"] = False
    return cfg


def _config(name: str, url: str) -> Config:
    # Alembic's own chatter ("No new upgrade operations detected.") is summed up by us
    return alembic_config({name: url}, argparse.Namespace(x=[f"db={name}"]))


def _is_sql(url: str) -> bool:
    return not url.startswith("jsonfile:")


def upgrade(name: str, url: str) -> str:
    """Bring one logical database to the current schema; returns what was done.

    SQL: ``alembic upgrade head`` for that database. JSON store: create the layout of
    every table (``ensure_schema``).

    Raises:
        InvalidQuery: the URL cannot be used (names a driver this install lacks, say).
        MigrationError: Alembic failed (the message names the database).
    """
    if not _is_sql(url):
        db = connect(url)
        try:
            db.ensure_schema(*DATABASES[name])
        finally:
            db.close()
        return "layout ensured"
    from alembic import command
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine_url(url)  # a configuration problem is the user's to fix (exit 2), not drift
    except InvalidQuery as exc:
        raise InvalidQuery(f"{name}: {exc}") from None
    try:
        command.upgrade(_config(name, url), "head")
    except (CommandError, SQLAlchemyError) as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0].removeprefix(f"{name}: ")
        raise MigrationError(f"{name}: alembic upgrade failed: {first}") from exc
    return "alembic upgrade head"


def check(
    name: str, url: str, repair: bool = False, options: Mapping[str, Any] | None = None
) -> CheckResult:
    """Check one logical database.

    JSON store: ``repositories.jsonfile.check`` reads every file (`repair` rebuilds the
    metadata from the record files; damaged files stay and are reported). SQL: a
    connection round trip (within the configured connect timeout), each read replica's
    lag, then ``alembic check`` (no drift between models and schema). A replica in
    trouble is reported, not a failure: reads skip it.
    """
    if not _is_sql(url):
        from repositories.jsonfile import check as check_store

        report = check_store(url, repair=repair)
        records = sum(t.records for t in report.tables)
        parts = [f"{len(report.tables)} tables, {records} records"]
        if report.repaired:
            parts.append("repaired")
        problems = report.problems()
        parts += problems[:3]
        if len(problems) > 3:
            parts.append(f"and {len(problems) - 3} more problems")
        return CheckResult(name, report.ok, "; ".join(parts))
    from alembic import command
    from alembic.util import AutogenerateDiffsDetected, CommandError
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import text

    from repositories.errors import BackendUnavailable
    from repositories.sql import SqlDatabase

    db = SqlDatabase(url, create_tables=False, **(options or {}))
    try:
        with db.engine.connect() as conn:
            conn.execute(text("select 1"))
        replicas = tuple(db.replica_status())
    except sa_exc.DBAPIError as exc:
        first = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise BackendUnavailable(f"{name}: cannot connect: {first}") from exc
    finally:
        db.close()
    lagging = [r for r in replicas if not r["ok"]]
    note = "; ".join(f"replica {r['url']}: {r['detail']}" for r in lagging)
    try:
        command.check(_config(name, url))
    except AutogenerateDiffsDetected as exc:
        return CheckResult(name, False, f"schema drift: {exc}", replicas)
    except CommandError as exc:
        return CheckResult(name, False, f"alembic check failed: {exc}", replicas)
    detail = "connected; alembic check: no drift"
    if replicas:
        detail += f"; {len(replicas) - len(lagging)} of {len(replicas)} replicas in use"
    return CheckResult(name, True, f"{detail}; {note}" if note else detail, replicas)


def main(argv: list[str] | None = None) -> None:
    """``python -m connectors.migrate``: Alembic's command line on the packaged scripts.

    The URLs come from the configuration (config.ini, ``DB_<NAME>_URL``...) as for
    ``alembic upgrade head`` in a checkout; ``-x db=app`` selects one logical database.
    """
    from alembic.config import CommandLine

    cli = CommandLine(prog="python -m connectors.migrate")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    cfg = alembic_config(cmd_opts=options)
    cfg.stdout = sys.stdout
    cli.run_cmd(cfg, options)


if __name__ == "__main__":
    main()
