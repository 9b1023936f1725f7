"""The four logical databases, opened from the settings, and thin per-database facades.

`open_databases(settings)` connects app, chat, management and realestate;
``dbs.for_context(ctx)`` gives the same databases seen by another caller (cheap: each
backend caches one `Database` per context, the original component's per-user interface
instances). The facades (`AppObjects`, `ChatObjects`, ...) only name the repositories of
one database, so service code reads ``app.users.find(...)``; every rule lives in the
repositories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.settings import Settings, load_settings
from models import (
    DATABASES,
    ChatLog,
    ChatMessage,
    ChatWorkflow,
    Mandate,
    Property,
    Record,
    TicketSyncDefinition,
    TicketSyncState,
    User,
    UserConnection,
    VoiceSettings,
)
from repositories import Context, Database, InvalidQuery, Repository, connect

__all__ = [
    "AppObjects",
    "ChatObjects",
    "Databases",
    "ManagementObjects",
    "RealEstateObjects",
    "model_database",
    "model_for_table",
    "open_databases",
]


def model_database(model: type[Record]) -> str:
    """The logical database a model lives in."""
    for name, models in DATABASES.items():
        if model in models:
            return name
    raise KeyError(f"{model.__name__} belongs to no logical database")


def model_for_table(table: str) -> type[Record]:
    """The model stored in `table` (its table name or class name, case-insensitive).

    Raises:
        InvalidQuery: no model has that table; the message lists the known ones.
    """
    from models.schema import model_info

    wanted = table.lower()
    models = [m for group in DATABASES.values() for m in group]
    for model in models:
        if model_info(model).table.lower() == wanted or model.__name__.lower() == wanted:
            return model
    known = ", ".join(sorted(model_info(m).table for m in models))
    raise InvalidQuery(f"unknown table {table!r}; known tables: {known}")


@dataclass(frozen=True)
class AppObjects:
    """The `app` database: mandates, users, user connections."""

    db: Database

    @property
    def mandates(self) -> Repository[Mandate]:
        return self.db.repository(Mandate)

    @property
    def users(self) -> Repository[User]:
        return self.db.repository(User)

    @property
    def connections(self) -> Repository[UserConnection]:
        return self.db.repository(UserConnection)


@dataclass(frozen=True)
class ChatObjects:
    """The `chat` database: workflows, messages, logs."""

    db: Database

    @property
    def workflows(self) -> Repository[ChatWorkflow]:
        return self.db.repository(ChatWorkflow)

    @property
    def messages(self) -> Repository[ChatMessage]:
        return self.db.repository(ChatMessage)

    @property
    def logs(self) -> Repository[ChatLog]:
        return self.db.repository(ChatLog)


@dataclass(frozen=True)
class ManagementObjects:
    """The `management` database: ticket sync definitions and state, voice settings."""

    db: Database

    @property
    def sync_definitions(self) -> Repository[TicketSyncDefinition]:
        return self.db.repository(TicketSyncDefinition)

    @property
    def sync_states(self) -> Repository[TicketSyncState]:
        return self.db.repository(TicketSyncState)

    @property
    def voice_settings(self) -> Repository[VoiceSettings]:
        return self.db.repository(VoiceSettings)


@dataclass(frozen=True)
class RealEstateObjects:
    """The `realestate` database: properties."""

    db: Database

    @property
    def properties(self) -> Repository[Property]:
        return self.db.repository(Property)


@dataclass(frozen=True)
class Databases:
    """The four logical databases, all seen by one context."""

    by_name: dict[str, Database]

    @property
    def context(self) -> Context:
        return self.by_name["app"].context

    @property
    def app(self) -> AppObjects:
        return AppObjects(self.by_name["app"])

    @property
    def chat(self) -> ChatObjects:
        return ChatObjects(self.by_name["chat"])

    @property
    def management(self) -> ManagementObjects:
        return ManagementObjects(self.by_name["management"])

    @property
    def realestate(self) -> RealEstateObjects:
        return RealEstateObjects(self.by_name["realestate"])

    def database_of(self, model: type[Record]) -> Database:
        """The database that stores `model`."""
        return self.by_name[model_database(model)]

    def repository(self, model: type[Record]) -> Repository[Any]:
        """The repository of `model` in its logical database."""
        return self.database_of(model).repository(model)

    def for_context(self, context: Context) -> Databases:
        """The same databases seen by `context` (cached per context by each backend)."""
        return Databases({n: db.with_context(context) for n, db in self.by_name.items()})

    def ensure_schema(self) -> None:
        """Create missing tables (jsonfile layout, or SQL tables without Alembic)."""
        for name, db in self.by_name.items():
            db.ensure_schema(*DATABASES[name])

    def close(self) -> None:
        # several logical names may share one store URL; close each Database once
        closed: set[int] = set()
        for db in self.by_name.values():
            if id(db) not in closed:
                closed.add(id(db))
                db.close()

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_databases(
    settings: Settings | None = None,
    context: Context | None = None,
    urls: dict[str, str] | None = None,
    **options: Any,
) -> Databases:
    """Connect the four logical databases.

    Args:
        settings: the configuration (default: `load_settings()`).
        context: who is calling (default `Context.system()`).
        urls: explicit URLs per logical database, instead of the settings' (and their
            ``DB_<NAME>_…`` pool, timeout and replica options).
        **options: backend options passed to `repositories.connect` (over the settings').
    """
    configs: dict[str, tuple[str, dict[str, Any]]]
    if urls is not None:
        configs = {name: (urls[name], {}) for name in DATABASES}
    else:
        found = (settings or load_settings()).databases()
        configs = {name: (found[name].url, dict(found[name].options)) for name in DATABASES}
    opened: dict[str, Database] = {}
    try:
        for name in DATABASES:
            url, configured = configs[name]
            opened[name] = connect(url, context=context, **{**configured, **options})
    except BaseException:
        for db in opened.values():
            db.close()
        raise
    return Databases(opened)
