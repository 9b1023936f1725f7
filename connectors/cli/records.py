"""``connectors records list | get | put | delete TABLE`` (JSON in, JSON out).

``--where field__op=value`` (repeatable) uses the repositories' lookup language; the
value is parsed as JSON when it is valid JSON (``age__gte=18``, ``tags__contains=["a"]``,
``email__isnull=true``) and taken as text otherwise. ``--user/--mandate/--privilege``
act as that context; without ``--user`` a command runs as the system context (a
sysadmin: every mandate, no access checks beyond that).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from connectors.cli.common import UsageProblem, settings_of, sub_app
from models import Record
from repositories import Context, Database, RecordNotFound, Repository

__all__ = ["app"]

app = sub_app("Read and write records of one table as JSON.")

TableArg = Annotated[str, typer.Argument(help="Table (model) name, e.g. User or Property.")]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option("--where", "-w", help="field__op=value (repeatable); value is JSON or text."),
]
UserOpt = Annotated[
    str | None,
    typer.Option("--user", help="Act as this user id (default: the system context, a sysadmin)."),
]
MandateOpt = Annotated[str | None, typer.Option("--mandate", help="The user's mandate id.")]
PrivilegeOpt = Annotated[
    str, typer.Option("--privilege", help="sysadmin, admin or user (with --user).")
]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Database URL (default: the table's configured one).")
]


def parse_filters(items: list[str] | None) -> dict[str, Any] | None:
    """``["age__gte=18", "name=ada"]`` → ``{"age__gte": 18, "name": "ada"}``."""
    if not items:
        return None
    where: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageProblem(f"--where {item!r}: expected field__op=value")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        where[key.strip()] = value
    return where


def _context(user: str | None, mandate: str | None, privilege: str) -> Context:
    if user is None:
        if mandate is not None:
            raise UsageProblem("--mandate needs --user")
        return Context.system()
    try:
        return Context(user_id=user, mandate_id=mandate, privilege=privilege)  # type: ignore[arg-type]
    except ValueError as exc:
        raise UsageProblem(f"bad context: {exc}") from exc


@contextmanager
def _opened(
    ctx: typer.Context,
    table: str,
    url: str | None,
    user: str | None,
    mandate: str | None,
    privilege: str,
) -> Iterator[tuple[Database, Repository[Any]]]:
    """The table's database, opened as the chosen context, and its repository."""
    from connectors.databases import model_database, model_for_table
    from repositories import connect

    model = model_for_table(table)
    target = url or settings_of(ctx).databases()[model_database(model)].url
    db = connect(target, context=_context(user, mandate, privilege))
    try:
        yield db, db.repository(model)
    finally:
        db.close()


@contextmanager
def _repository(
    ctx: typer.Context,
    table: str,
    url: str | None,
    user: str | None,
    mandate: str | None,
    privilege: str,
) -> Iterator[Repository[Any]]:
    with _opened(ctx, table, url, user, mandate, privilege) as (_, repo):
        yield repo


def _dump(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


@app.command("list")
def list_(
    ctx: typer.Context,
    table: TableArg,
    where: WhereOpt = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", help="Field, '-' for descending.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=0)] = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    user: UserOpt = None,
    mandate: MandateOpt = None,
    privilege: PrivilegeOpt = "user",
    url: UrlOpt = None,
) -> None:
    """Print the matching records as a JSON array."""
    with _repository(ctx, table, url, user, mandate, privilege) as repo:
        records = repo.find(parse_filters(where), order_by=order_by, limit=limit, offset=offset)
        _dump([r.model_dump(mode="json", by_alias=True) for r in records])


@app.command()
def get(
    ctx: typer.Context,
    table: TableArg,
    record_id: Annotated[str, typer.Argument(metavar="ID")],
    user: UserOpt = None,
    mandate: MandateOpt = None,
    privilege: PrivilegeOpt = "user",
    url: UrlOpt = None,
) -> None:
    """Print one record as JSON (exit 1 if it does not exist or is not visible)."""
    with _repository(ctx, table, url, user, mandate, privilege) as repo:
        record = repo.get(record_id)
        if record is None:
            raise RecordNotFound(table, record_id)
        _dump(record.model_dump(mode="json", by_alias=True))


@app.command()
def put(
    ctx: typer.Context,
    table: TableArg,
    data: Annotated[
        str, typer.Argument(help="A JSON object or array of objects; '-' reads stdin.")
    ] = "-",
    user: UserOpt = None,
    mandate: MandateOpt = None,
    privilege: PrivilegeOpt = "user",
    url: UrlOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Write each object whole (no merge).")
    ] = False,
) -> None:
    """Create records, or update the fields given (merge); prints them as stored.

    An object whose id exists gets only its given fields changed; any other object is
    created. With --replace every object is written whole (fields left out take their
    defaults). Unknown fields are refused by name; the audit fields are the
    repository's and are ignored. All objects are checked before any is written, and
    written in one transaction.
    """
    raw = sys.stdin.read() if data == "-" else data
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"put: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    if not all(isinstance(i, dict) for i in items):
        raise UsageProblem("put: expected a JSON object or an array of objects")
    with _opened(ctx, table, url, user, mandate, privilege) as (db, repo):
        writes = [_planned(repo, table, item, replace) for item in items]
        with db.transaction():
            stored = [write() for write in writes]
        out = [r.model_dump(mode="json", by_alias=True) for r in stored]
        _dump(out if isinstance(parsed, list) else out[0])


def _planned(repo: Repository[Any], table: str, item: dict[str, Any], replace: bool) -> Any:
    """The write one JSON object asks for, checked before anything is written."""
    from pydantic import ValidationError

    from models.base import AUDIT_FIELDS
    from models.schema import model_info

    model: type[Record] = repo.model
    info = model_info(model)
    audit = {a for f in AUDIT_FIELDS for a in (f, info.by_name[f].storage)}
    fields = {k: v for k, v in item.items() if k not in audit}
    unknown = sorted(k for k in fields if info.resolve(k) is None)
    if unknown:
        raise UsageProblem(f"put: {table} has no field {', '.join(map(repr, unknown))}")
    record_id = fields.get("id")
    if not replace and isinstance(record_id, str) and repo.get(record_id) is not None:
        changes = {k: v for k, v in fields.items() if k != "id"}
        return lambda: repo.update(record_id, changes)
    try:
        obj = repo.model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageProblem(f"put: {table}.{where}: {first['msg']}") from exc
    return lambda: repo.upsert(obj)


@app.command()
def delete(
    ctx: typer.Context,
    table: TableArg,
    record_id: Annotated[str | None, typer.Argument(metavar="[ID]")] = None,
    where: WhereOpt = None,
    user: UserOpt = None,
    mandate: MandateOpt = None,
    privilege: PrivilegeOpt = "user",
    url: UrlOpt = None,
) -> None:
    """Delete one record by ID, or every record matching --where; prints the count."""
    if (record_id is None) == (not where):
        raise UsageProblem("delete: give either an ID or --where (not both)")
    with _repository(ctx, table, url, user, mandate, privilege) as repo:
        if record_id is not None:
            if not repo.delete(record_id):
                raise RecordNotFound(table, record_id)
            _dump({"deleted": 1})
        else:
            _dump({"deleted": repo.delete_many(parse_filters(where))})
