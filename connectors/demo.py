"""``connectors demo``: the layer at work in a few seconds, on the embedded JSON default.

It resets its own JSON store (``data/demo/store/<database>``), upgrades it, creates two
mandates with an admin and a user each, lets every user write records in each logical
database, shows what each user can see and what they are refused, shows the audit
trail, then copies the demo's records into SQL and verifies the copy (counts and
checksums). The SQL destination is the configured database when ``DB_<NAME>_URL`` (or
``DB_<NAME>_HOST``) points at one, else a SQLite file per database in
``data/demo/copy/``. Only the demo's two mandates are touched there, so it runs
again and again (idempotent).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from connectors import migrate
from connectors.databases import Databases, open_databases
from connectors.settings import Settings, database_configs, redact_url
from connectors.transfer import copy_tables, verify_tables
from models import (
    DATABASES,
    ChatMessage,
    ChatWorkflow,
    Mandate,
    Property,
    Record,
    TicketSyncDefinition,
    User,
    VoiceSettings,
)
from models.errors import ConnectorsError
from models.schema import model_info
from repositories import AccessDenied, Context, connect
from repositories.context import Privilege

__all__ = ["DEMO_MANDATES", "DemoFailed", "run_demo"]

DEMO_MANDATES = {"demo-acme": "Acme Realty", "demo-birch": "Birch Homes"}


@dataclass(frozen=True)
class DemoUser:
    id: str
    mandate: str
    privilege: Privilege

    @property
    def context(self) -> Context:
        return Context(self.id, self.mandate, self.privilege)


USERS = (
    DemoUser("alice", "demo-acme", "admin"),
    DemoUser("bob", "demo-acme", "user"),
    DemoUser("carol", "demo-birch", "admin"),
    DemoUser("dave", "demo-birch", "user"),
)


def _time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M:%S.%f")[:-3]


def _demo_filter(model: type[Record]) -> Mapping[str, Any] | None:
    if model is Mandate:
        return {"id__in": list(DEMO_MANDATES)}
    if model_info(model).tenant is not None:
        return {"mandate_id__in": list(DEMO_MANDATES)}
    return {"id__in": []}


def _seed(dbs: Databases) -> None:
    system = dbs.app
    for mandate_id, name in DEMO_MANDATES.items():
        system.mandates.create(Mandate(id=mandate_id, name=name))
    for user in USERS:
        system.users.create(
            User(
                id=user.id,
                username=user.id,
                mandate_id=user.mandate,
                privilege=user.privilege,
                email=f"{user.id}@{user.mandate.removeprefix('demo-')}.example",
            )
        )
    cities = {"demo-acme": ("Zürich", "Basel"), "demo-birch": ("Bern", "Genève")}
    for user in USERS:
        mine = dbs.for_context(user.context)
        city = cities[user.mandate][0 if user.privilege == "admin" else 1]
        mine.realestate.properties.create_many(
            [
                Property(title=f"{user.id}: flat, {city}", city=city, rooms=3, price=850e3),
                Property(title=f"{user.id}: loft, {city}", city=city, rooms=2, price=640e3),
            ]
        )
        workflow = mine.chat.workflows.create(ChatWorkflow(name=f"{user.id}: viewing request"))
        mine.chat.messages.create(
            ChatMessage(workflow_id=workflow.id, role="user", message=f"Hello from {user.id}")
        )
        mine.management.voice_settings.create(VoiceSettings(user_id=user.id))
        if user.privilege == "admin":
            mine.management.sync_definitions.create(
                TicketSyncDefinition(name=f"{user.mandate} Jira", connector_type="jira")
            )


def _visibility(dbs: Databases, console: Console) -> None:
    table = Table(title="What each user sees (access scoping by mandate)")
    for column in ("user", "mandate", "privilege", "properties", "workflows", "voice settings"):
        table.add_column(column, justify="right" if column[0] in "pwv" else "left")
    for user in USERS:
        mine = dbs.for_context(user.context)
        table.add_row(
            user.id,
            user.mandate,
            user.privilege,
            str(mine.realestate.properties.count()),
            str(mine.chat.workflows.count()),
            str(mine.management.voice_settings.count()),
        )
    system = dbs.realestate.properties.count()
    table.add_row("system", "(all)", "sysadmin", str(system), "", "", style="dim")
    console.print(table)


class DemoFailed(ConnectorsError):
    """A scoping rule the demo shows did not hold (this is a bug: please report it)."""


def _attempt(action: Callable[[], Any], expected: Any) -> tuple[str, bool]:
    """Run `action`; its result as text, and whether it is `expected` (or refused)."""
    try:
        outcome = action()
    except AccessDenied:
        return "[red]refused[/red] (AccessDenied)", expected is AccessDenied
    if outcome is None:
        return "[green]not visible[/green] (None)", expected is None
    if outcome is False:
        return "[green]nothing deleted[/green] (False)", expected is False
    if isinstance(outcome, int):
        return f"[green]{outcome} records[/green]", expected == outcome
    return f"[green]{outcome}[/green]", expected == outcome


def _refusals(dbs: Databases, console: Console) -> None:
    bob = dbs.for_context(USERS[1].context).realestate.properties
    alice = dbs.for_context(USERS[0].context).realestate.properties
    dave = dbs.for_context(USERS[3].context)
    carols = dbs.realestate.properties.find({"created_by": "carol"}, limit=1)[0]
    alices = dbs.realestate.properties.find({"created_by": "alice"}, limit=1)[0]
    bobs = dbs.realestate.properties.find({"created_by": "bob"}, limit=1)[0]
    forged = Property(title="forged", created_by="root", created_at=0.0)
    attempts: list[tuple[str, str, Callable[[], Any], Any]] = [
        ("bob", "read carol's property", lambda: bob.get(carols.id), None),
        (
            "bob",
            "find mandate_id=demo-birch",
            lambda: len(bob.find({"mandate_id": "demo-birch"})),
            0,
        ),
        (
            "bob",
            "find mandate_id__ne=demo-acme",
            lambda: bob.count({"mandate_id__ne": "demo-acme"}),
            0,
        ),
        ("bob", "delete carol's property", lambda: bob.delete(carols.id), False),
        (
            "bob",
            "update alice's property",
            lambda: bob.update(alices.id, {"price": 1.0}),
            AccessDenied,
        ),
        (
            "bob",
            "create in demo-birch",
            lambda: bob.create(Property(title="x", mandate_id="demo-birch")),
            AccessDenied,
        ),
        (
            "bob",
            "move his property to demo-birch",
            lambda: bob.update(bobs.id, {"mandate_id": "demo-birch"}),
            AccessDenied,
        ),
        (
            "bob",
            "create with _createdBy=root",
            lambda: f"stored as {bob.create(forged).created_by}",
            "stored as bob",
        ),
        ("dave", "read mandate demo-acme", lambda: dave.app.mandates.get("demo-acme"), None),
        (
            "alice",
            "update bob's property (admin)",
            lambda: f"ok, price {alice.update(bobs.id, {'price': 799e3}).price:,.0f}",
            "ok, price 799,000",
        ),
    ]
    table = Table(title="Cross-tenant and cross-user attempts")
    table.add_column("who")
    table.add_column("tries to")
    table.add_column("result", overflow="fold")
    wrong = []
    for who, what, action, expected in attempts:
        text, as_expected = _attempt(action, expected)
        table.add_row(who, what, text if as_expected else f"[red]UNEXPECTED[/red] {text}")
        if not as_expected:
            wrong.append(f"{who} could {what}")
    console.print(table)
    if wrong:
        raise DemoFailed("access scoping did not hold: " + "; ".join(wrong))


def _audit(dbs: Databases, console: Console) -> None:
    table = Table(title="Audit trail of demo-acme's properties (set by the repository)")
    for column in ("property", "_createdBy", "_createdAt", "_modifiedBy", "_modifiedAt"):
        table.add_column(column)
    for prop in dbs.realestate.properties.find(
        {"mandate_id": "demo-acme"}, order_by=["created_by", "title"]
    ):
        table.add_row(
            prop.title,
            prop.created_by or "-",
            _time(prop.created_at),
            prop.modified_by or "-",
            _time(prop.modified_at),
        )
    console.print(table)


def _copy(settings: Settings, dbs: Databases, directory: Path, console: Console) -> None:
    configs = database_configs(settings)
    copies = directory / "copy"
    table = Table(title="Copy of the demo's records, verified (count + SHA-256 per table)")
    for column in ("database", "table", "rows", "sha-256", "copy"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    destinations = []
    for name, models in DATABASES.items():
        target_url = configs[name].url
        if not configs[name].is_sql:
            copies.mkdir(parents=True, exist_ok=True)
            (copies / f"{name}.db").unlink(missing_ok=True)
            target_url = f"sqlite:///{(copies / f'{name}.db').as_posix()}"
        migrate.upgrade(name, target_url)
        target = connect(target_url)
        try:
            for model in models:  # earlier runs' demo records go first: idempotent
                where = _demo_filter(model)
                if where and next(iter(where.values())):
                    target.repository(model).delete_many(where)
            source = dbs.by_name[name]
            copy_tables(source, target, models, where_for=_demo_filter, create_schema=False)
            for result in verify_tables(source, target, models, where_for=_demo_filter):
                table.add_row(
                    name,
                    result.table,
                    str(result.target_count),
                    result.target_checksum[:16],
                    "[green]equal[/green]",
                )
            destinations.append(f"{name} → {redact_url(target_url)}")
        finally:
            target.close()
    console.print(table)
    console.print("copied into: " + "; ".join(destinations), highlight=False)


def run_demo(settings: Settings, directory: Path, console: Console) -> None:
    """Run the whole demo, printing Rich tables to `console`.

    Raises:
        DemoFailed: a rule the demo shows did not hold.
        RepositoryError, MigrationError, CopyError: a step failed (the CLI prints it).
    """
    store = directory / "store"
    shutil.rmtree(store, ignore_errors=True)
    urls = {name: f"jsonfile://{(store / name).as_posix()}" for name in DATABASES}
    console.rule("[bold]connectors demo")
    console.print(f"JSON store: {store}  (reset on every run)")
    for name, url in urls.items():
        migrate.upgrade(name, url)
    with open_databases(urls=urls) as dbs:
        _seed(dbs)
        _visibility(dbs, console)
        _refusals(dbs, console)
        _audit(dbs, console)
        _copy(settings, dbs, directory, console)
    console.print("[bold green]demo finished[/bold green]: every check above passed.")
