"""``connectors tickets fields|export|sync``: the ticket connectors from the command line.

Connection settings (`integrations.tickets.config`) come from the root's settings
(``--config``, config.ini, the environment); tokens are secrets and never printed. Heavy
imports happen inside the commands so that loading this module at CLI start-up stays cheap.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectors.cli.common import UsageProblem, settings_of, sub_app

if TYPE_CHECKING:
    from integrations.tickets.interface import TicketInterface

__all__ = ["app"]

app = sub_app("Jira/ClickUp tickets: list fields, export rows, two-way sync.")

MappingOpt = Annotated[
    Path,
    typer.Option(
        "--mapping",
        "-m",
        help="Ticket mapping: local field -> ticket path (YAML or JSON).",
        exists=True,
    ),
]
ConnectorOpt = Annotated[
    str | None,
    typer.Option(
        "--connector", "-c", help="jira or clickup (default: the mapping's connector_type)."
    ),
]


def connector_params(ctx: typer.Context, kind: str) -> dict[str, Any]:
    """Connector parameters for `kind` (``jira`` or ``clickup``) from the root's settings."""
    from integrations.tickets.config import ClickUpConfig, JiraConfig

    kind = kind.strip().lower()
    if kind == "jira":
        return settings_of(ctx).section(JiraConfig).params()
    if kind == "clickup":
        return settings_of(ctx).section(ClickUpConfig).params()
    raise UsageProblem(f"unknown ticket connector type {kind!r}: use 'jira' or 'clickup'")


def _interface(
    ctx: typer.Context, mapping: Path, connector: str | None, **extra: Any
) -> TicketInterface:
    from integrations.tickets.interface import create_ticket_interface
    from integrations.tickets.mapping import TicketMapping

    loaded = TicketMapping.load(mapping)
    kind = connector or loaded.connector_type
    if not kind:
        raise UsageProblem("no connector type: pass --connector or set connector_type in the file")
    return create_ticket_interface(kind, connector_params(ctx, kind), loaded, **extra)


@contextmanager
def _progress(interface: TicketInterface) -> Iterator[None]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
        console=_console(),
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(
                    "reading" if stage == "read" else "writing", total=total
                )
            bar.update(tasks[stage], completed=done, total=total)

        interface.connector.progress = report  # type: ignore[attr-defined]
        yield


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@app.command()
def fields(ctx: typer.Context, mapping: MappingOpt, connector: ConnectorOpt = None) -> None:
    """List the fields the ticket system knows (id, name, type, rich text, options)."""
    from rich.console import Console
    from rich.table import Table

    interface = _interface(ctx, mapping, connector)
    table = Table("id", "name", "type", "custom", "rich text", "options")
    for field in interface.connector.read_attributes():
        options = ", ".join(str(o.get("name") or o.get("label")) for o in field.options)
        table.add_row(
            field.id,
            field.name,
            field.type or "",
            "yes" if field.custom else "",
            "yes" if field.rich_text else "",
            options,
        )
    Console().print(table)


@app.command()
def export(
    ctx: typer.Context,
    mapping: MappingOpt,
    connector: ConnectorOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="CSV file; omitted: JSON on stdout.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """Export tickets as flat rows of the mapping's readable fields."""
    interface = _interface(ctx, mapping, connector)
    with _progress(interface):
        if out is not None:
            count = interface.export_csv(out, limit=limit)
            typer.echo(f"exported {count} tickets to {out}", err=True)
            return
        rows = interface.export_tickets(limit=limit)
    json.dump(rows, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


@app.command()
def sync(
    ctx: typer.Context,
    mapping: MappingOpt,
    records: Annotated[
        Path, typer.Option("--records", "-r", help="JSON list of local records.", exists=True)
    ],
    mandate: Annotated[str, typer.Option("--mandate", help="Mandate owning the sync state.")],
    connector: ConnectorOpt = None,
    state_url: Annotated[
        str | None,
        typer.Option("--state-url", help="Where sync state lives (default: management db)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the merged records here (JSON).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan, write nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Overwrite rich text even where that deletes images, mentions..."
        ),
    ] = False,
) -> None:
    """Two-way sync: local-only changes out, remote-only changes in, conflicts reported."""
    from models.management import TicketSyncState
    from repositories import Context, connect

    state_url = state_url or settings_of(ctx).urls()["management"]
    db = connect(
        state_url, context=Context(user_id="tickets-cli", mandate_id=mandate, privilege="admin")
    )
    try:
        db.ensure_schema(TicketSyncState)
        interface = _interface(
            ctx, mapping, connector, states=db.repository(TicketSyncState), mandate_id=mandate
        )
        rows = _records(records)
        with _progress(interface):
            report = interface.sync(rows, dry_run=dry_run, force=force)
    finally:
        db.close()
    _print_report(report)
    if out is not None:
        out.write_text(json.dumps(report.records, indent=2, default=str), encoding="utf-8")


def _records(path: Path) -> list[Any]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(rows, list):
        raise UsageProblem(f"{path}: expected a JSON list of records")
    return rows


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    counts: dict[str, int] = {}
    for result in report.outbound:
        counts[result.status] = counts.get(result.status, 0) + 1
    written = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing"
    created = sum(1 for r in report.created if r.status in ("created", "planned"))
    console.print(
        f"{'dry run: ' if report.dry_run else ''}out: {written}; "
        f"in: {len(report.inbound)}; created: {created}; conflicts: {len(report.conflicts)}; "
        f"missing: {len(report.missing)}; deleted remotely: {len(report.deleted)}",
        highlight=False,
    )
    problems = [r for r in report.outbound if not r.ok and not r.lossy]
    failed_creates = [r for r in report.created if r.status == "failed"]
    if report.conflicts or problems or failed_creates:
        table = Table("ticket", "field", "problem")
        for conflict in report.conflicts:
            detail = (
                f"local {conflict.local!r} vs remote {conflict.remote!r}"
                if conflict.reason == "changed on both sides"
                else conflict.reason
            )
            table.add_row(conflict.external_id, conflict.field, f"conflict: {detail}")
        for result in problems:
            for name, reason in result.rejected.items():
                table.add_row(result.task_id, name, reason)
            if result.error:
                table.add_row(result.task_id, "", result.error)
        for created_result in failed_creates:
            table.add_row(f"(new #{created_result.index})", "", created_result.error or "")
        console.print(table)
