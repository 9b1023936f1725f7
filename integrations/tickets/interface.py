"""`TicketInterface`: a connector seen through a ticket mapping: export, and two-way sync.

The sync's rules and report are in `integrations.tickets.sync`.

Errors: `InvalidRequest` for an unknown connector type or a sync
without a state repository; `MappingError` for an
invalid mapping; connector errors (`integrations.tickets.errors`) propagate from
reads; write failures are reported per task in the result.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from integrations.errors import InvalidRequest
from integrations.tickets.base import TicketConnector, TicketField
from integrations.tickets.mapping import TicketMapping
from integrations.tickets.sync import Conflict, InboundChange, SyncReport, run_sync
from models.management import TicketSyncState

__all__ = [
    "Conflict",
    "InboundChange",
    "StateStore",
    "SyncReport",
    "TicketInterface",
    "create_ticket_interface",
]

if TYPE_CHECKING:
    from repositories import Database


class StateStore(Protocol):
    """The part of ``repositories.Repository[TicketSyncState]`` the sync uses."""

    def find(self, where: Mapping[str, Any] | None = None) -> list[TicketSyncState]: ...
    def create(self, obj: TicketSyncState) -> TicketSyncState: ...
    def update(self, record_id: str, changes: Mapping[str, Any]) -> TicketSyncState: ...
    def delete(self, record_id: str) -> bool: ...


class TicketInterface:
    """A connector seen through a ticket mapping."""

    def __init__(
        self,
        connector: TicketConnector,
        mapping: TicketMapping,
        *,
        db: Database | None = None,
        states: StateStore | None = None,
        mandate_id: str | None = None,
    ) -> None:
        self.connector = connector
        self.mapping = mapping
        self.db = db
        if states is None and db is not None:
            states = db.repository(TicketSyncState)
        self.states = states
        self.mandate_id = mandate_id
        self._attributes: dict[str, TicketField] | None = None

    def attributes(self) -> dict[str, TicketField]:
        """The system's fields by id and by name (read once; used by option transforms)."""
        if self._attributes is None:
            fields = self.connector.read_attributes()
            self._attributes = {f.id: f for f in fields} | {f.name: f for f in fields}
        return self._attributes

    def _needs_attributes(self) -> bool:
        return any((m.transform or "").startswith("option_") for m in self.mapping.fields.values())

    def _rows(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        attrs = self.attributes() if self._needs_attributes() else {}
        return [self.mapping.to_row(t, attrs) for t in tasks]

    def _read(
        self, limit: int | None = None, updated_since: datetime | None = None
    ) -> list[dict[str, Any]]:
        paths = self.mapping.read_paths()
        return self.connector.read_tasks(
            limit=limit,
            updated_since=updated_since,
            fields=sorted({*paths, "updated"}) if paths else None,
        )

    def export_tickets(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every ticket as a flat row of the mapping's readable fields."""
        return self._rows(self._read(limit=limit))

    def export_csv(self, path: str | Path, limit: int | None = None) -> int:
        """Write the export as CSV (lists/objects as JSON); returns the number of rows."""
        rows = self.export_tickets(limit=limit)
        columns = [
            n for n, m in self.mapping.fields.items() if m.readable or n == self.mapping.key_field
        ]
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        k: json.dumps(v) if isinstance(v, dict | list) else ("" if v is None else v)
                        for k, v in row.items()
                        if k in columns
                    }
                )
        return len(rows)

    def sync(self, local: Any, *, dry_run: bool = False, force: bool = False) -> SyncReport:
        """Two-way sync of local records with the tickets, everything decided persisted.

        Args:
            local: a ``repositories`` repository of records carrying the mapping's fields
                (inbound changes, new tickets and created keys are written into it), or
                plain rows keyed by the mapping's key field (returned as ``report.records``).
            dry_run: decide and report, write nothing anywhere.
            force: overwrite rich text even where that deletes what Markdown cannot show
                (otherwise such fields are reported as conflicts).

        See `integrations.tickets.sync` for the rules. Local changes and sync state
        are written in one transaction when the interface was given the database.

        Raises:
            InvalidRequest: no state repository or mandate.
            MappingError: the mapping names a field the local model lacks, or a ticket
                cannot become a local record.
        """
        self.require_states()
        return run_sync(self, local, dry_run=dry_run, force=force)

    # ------------------------------------------------------------------ for the sync

    def require_states(self) -> StateStore:
        """The state repository (InvalidRequest when the interface has none)."""
        if self.states is None or self.mandate_id is None:
            raise InvalidRequest("sync needs a TicketSyncState repository and a mandate_id")
        return self.states

    def state_map(self) -> dict[str, TicketSyncState]:
        """The stored state of each ticket of this mapping and mandate, by key."""
        store = self.require_states()
        found = store.find(
            where={"definition_id": self.mapping.definition_id, "mandate_id": self.mandate_id}
        )
        return {s.external_id: s for s in found}

    def read(self, updated_since: datetime | None = None) -> list[dict[str, Any]]:
        """Raw tickets (all, or updated since), asking only for the mapped fields."""
        return self._read(updated_since=updated_since)

    def rows(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tickets as rows of the mapping's fields."""
        return self._rows(tasks)

    def option_attributes(self) -> dict[str, TicketField]:
        """The system's fields when a transform needs options, else nothing (no request)."""
        return self.attributes() if self._needs_attributes() else {}


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    return out.lstrip("_")


def create_ticket_interface(
    connector_type: str,
    params: Mapping[str, Any],
    mapping: TicketMapping | Mapping[str, Any],
    *,
    db: Database | None = None,
    states: StateStore | None = None,
    mandate_id: str | None = None,
) -> TicketInterface:
    """Build the connector named by ``connector_type`` (``jira``/``clickup``, any case).

    ``params`` take snake_case or the original camelCase names (``apiUrl``, ``teamId``...),
    plus connector keyword options such as ``client``, ``concurrency``, ``jql`` (Jira) or
    ``filters`` (ClickUp). ``db`` (a ``repositories`` database scoped to the mandate) holds
    the sync state and makes a sync's writes one transaction; ``states`` alone works too.

    Raises:
        InvalidRequest: unknown connector type.
        MappingError: ``mapping`` is not a valid ticket mapping.
    """
    kind = (connector_type or "").strip().lower()
    kwargs = {_snake(k): v for k, v in params.items()}
    if not isinstance(mapping, TicketMapping):
        mapping = TicketMapping.from_data(mapping)
    connector: TicketConnector
    if kind == "jira":
        from integrations.tickets.jira import JiraConnector

        connector = JiraConnector(**kwargs)
    elif kind == "clickup":
        from integrations.tickets.clickup import ClickUpConnector

        connector = ClickUpConnector(**kwargs)
    else:
        raise InvalidRequest(
            f"unknown ticket connector type {connector_type!r}: use 'jira' or 'clickup'"
        )
    return TicketInterface(connector, mapping, db=db, states=states, mandate_id=mandate_id)
