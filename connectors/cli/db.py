"""``connectors db upgrade | check | copy``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from connectors.cli.common import (
    UsageProblem,
    console,
    err_console,
    escape,
    settings_of,
    sub_app,
)
from connectors.settings import redact_url
from models import DATABASES
from models.errors import ConnectorsError

if TYPE_CHECKING:
    from connectors.transfer import TableCopy
    from models import Record
    from repositories import Database

__all__ = ["app"]

app = sub_app("Schema upgrades, store checks and copies between backends.")

DbOption = Annotated[
    list[str] | None,
    typer.Option("--db", help="Only this logical database (repeatable): " + ", ".join(DATABASES)),
]


def _selected(names: list[str] | None) -> list[str]:
    chosen = names or list(DATABASES)
    unknown = [n for n in chosen if n not in DATABASES]
    if unknown:
        raise UsageProblem(f"unknown database {unknown[0]!r}; known: {', '.join(DATABASES)}")
    return chosen


@app.command()
def upgrade(ctx: typer.Context, db: DbOption = None) -> None:
    """Upgrade every configured database: Alembic for SQL, the layout for JSON stores."""
    from connectors import migrate

    configs = settings_of(ctx).databases()
    table = Table(title="db upgrade")
    table.add_column("database")
    table.add_column("url")
    table.add_column("done")
    for name in _selected(db):
        config = configs[name]
        done = migrate.upgrade(name, config.url)
        table.add_row(name, escape(config.display_url), done)
    console.print(table)


@app.command()
def check(
    ctx: typer.Context,
    db: DbOption = None,
    repair: Annotated[
        bool,
        typer.Option(help="JSON stores: rebuild metadata from the record files, drop temp files."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as JSON (for health probes).")
    ] = False,
) -> None:
    """Check each database: JSON store integrity, or SQL connectivity + alembic check.

    Every selected database is checked and reported, whatever the first one found. The
    exit code is 5 when one cannot be reached, 7 when one has a problem (damage, drift).
    """
    from connectors import migrate
    from repositories import BackendUnavailable

    configs = settings_of(ctx).databases()
    results: list[dict[str, Any]] = []
    for name in _selected(db):
        config = configs[name]
        try:
            result = migrate.check(name, config.url, repair=repair, options=config.options)
            entry = {
                "ok": result.ok,
                "detail": result.detail,
                "unreachable": False,
                "replicas": list(result.replicas),
            }
        except ConnectorsError as exc:
            unreachable = isinstance(exc, BackendUnavailable)
            entry = {
                "ok": False,
                "detail": str(exc).splitlines()[0],
                "unreachable": unreachable,
                "replicas": [],
            }
        results.append({"database": name, "url": config.display_url, **entry})
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        table = Table(title="db check")
        for column in ("database", "url", "status", "detail"):
            table.add_column(column)
        for r in results:
            status = "[green]ok[/green]" if r["ok"] else "[red]problem[/red]"
            table.add_row(r["database"], escape(r["url"]), status, escape(r["detail"]))
        console.print(table)
    failed = [r["database"] for r in results if not r["ok"]]
    if not failed:
        return
    message = f"check found problems in: {', '.join(failed)}"
    if any(r["unreachable"] for r in results):
        raise BackendUnavailable(message)
    raise migrate.MigrationError(message)


def _resolve_url(ctx: typer.Context, value: str) -> str:
    if "://" in value:
        return value
    if value in DATABASES:
        return settings_of(ctx).databases()[value].url
    raise UsageProblem(f"{value!r} is neither a database URL nor a logical database name")


def _models_for(source: str, database: str | None, tables: list[str] | None) -> list[type[Record]]:
    from connectors.databases import model_for_table

    if tables:
        return [model_for_table(t) for item in tables for t in item.split(",") if t.strip()]
    if database:
        if database not in DATABASES:
            raise UsageProblem(f"unknown database {database!r}; known: {', '.join(DATABASES)}")
        return list(DATABASES[database])
    stem = source.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0].removesuffix(".db")
    if stem in DATABASES:
        return list(DATABASES[stem])
    return [m for group in DATABASES.values() for m in group]


def _present(source: Database, models: list[type[Record]], url: str) -> list[type[Record]]:
    """The models whose tables exist in `source` (those absent are named on the console).

    Raises:
        CopyError: none of them exists: the source is not migrated (or not this database).
    """
    from connectors.transfer import CopyError
    from repositories import SchemaError

    present = []
    for model in models:
        try:
            source.repository(model).count()
        except SchemaError:
            console.print(f"skipped {model.__name__}: no such table in the source")
            continue
        present.append(model)
    if not present:
        raise CopyError(
            f"the source {redact_url(url)} has none of the tables to copy: is it migrated "
            "(connectors db upgrade), or another database?"
        )
    return present


def _upgrade_target(url: str, models: list[type[Record]]) -> bool:
    """A SQL target gets its schema from Alembic (so later upgrades still apply)."""
    from connectors import migrate
    from connectors.databases import model_database

    if url.startswith("jsonfile:"):
        return False
    for name in sorted({model_database(m) for m in models}):
        migrate.upgrade(name, url)
    return True


@app.command()
def copy(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Source URL (or a logical database name).")],
    target: Annotated[str, typer.Argument(help="Destination URL (or a logical database name).")],
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="Only these tables (comma-separated).")
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(help="The logical database whose tables to copy (default: from the URL)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Records per write.")] = 5000,
    verify: Annotated[bool, typer.Option(help="Compare counts and checksums.")] = True,
) -> None:
    """Copy every table from SOURCE into TARGET, keeping ids and audit fields.

    Resumable: ids already in TARGET are skipped, so run it again after an interruption.
    SOURCE must exist (it is never created) and differ from TARGET.
    """
    from connectors.transfer import (
        CopyError,
        copy_tables,
        open_source,
        refuse_same_database,
        verify_tables,
    )
    from repositories import connect

    src_url, dst_url = _resolve_url(ctx, source), _resolve_url(ctx, target)
    models = _models_for(src_url, database, tables)
    src = open_source(src_url)
    dst = None
    try:
        dst = connect(dst_url)
        refuse_same_database(src, dst)
        if not (tables or database):
            models = _present(src, models, src_url)
        if not any(src.repository(m).count() for m in models):
            console.print(f"the source {escape(redact_url(src_url))} is empty: nothing to copy")
            return
        migrated = _upgrade_target(dst_url, models)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as bar:
            tasks: dict[str, TaskID] = {}
            where = {"table": "", "done": 0, "total": 0, "tables": 0}

            def progress(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total)
                    where["tables"] = len(tasks) - 1
                where.update(table=table, done=done, total=total)
                bar.update(tasks[table], completed=done)

            try:
                results = copy_tables(
                    src,
                    dst,
                    models,
                    batch_size=batch_size,
                    progress=progress,
                    create_schema=not migrated,
                )
            except KeyboardInterrupt:
                bar.stop()
                err_console.print(
                    f"interrupted: {where['tables']} of {len(models)} tables done, "
                    f"{where['done']} of {where['total']} rows of {where['table']} written; "
                    "run the same command again to resume",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(130) from None
        if verify:
            try:
                results = verify_tables(src, dst, models, results)
            except CopyError as exc:
                _print_copy(results if not exc.results else exc.results, src_url, dst_url)
                raise
        _print_copy(results, src_url, dst_url, verified=verify)
    finally:
        src.close()
        if dst is not None:
            dst.close()


def _print_copy(
    results: Sequence[TableCopy], source: str, target: str, verified: bool = True
) -> None:
    table = Table(title=f"copy {escape(redact_url(source))} → {escape(redact_url(target))}")
    for column in ("table", "source rows", "written", "target rows", "checksum"):
        numeric = "rows" in column or column == "written"
        table.add_column(column, justify="right" if numeric else "left")
    for r in results:
        if not verified:
            status = "[yellow]not verified[/yellow]"
        elif r.verified:
            status = f"[green]equal[/green] {r.source_checksum[:12]}"
        else:
            status = "[red]differs[/red]"
        target_rows = str(r.target_count) if r.target_count >= 0 else "-"
        table.add_row(r.table, str(r.source_count), str(r.written), target_rows, status)
    console.print(table)
