"""`TicketInterface`: export through a ticket mapping, and two-way sync with stored state.

Two-way sync keeps, per ticket, the last synced value of each field (a ``TicketSyncState``
record in an injected repository). Per field: only local changed -> written out; only remote
changed -> taken in; both changed to different values -> a conflict, left alone; both
changed to the same value -> recorded as synced. With no stored value yet (first sync),
local and remote values that differ are a conflict too. Remote reads are incremental from the
stored cursor (the latest ``updated`` seen); a ticket not returned is unchanged remotely.
A full read happens on the first sync or when a local record names a ticket without state.

Errors: :class:`~integrations.errors.InvalidRequest` for an unknown connector type or a sync
without a repository; :class:`~integrations.tickets.mapping.MappingError` for an
invalid mapping;
connector errors (:mod:`integrations.tickets.errors`) propagate from reads; write failures
are reported per task in the result.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from integrations.errors import InvalidRequest
from integrations.tickets.base import TicketConnector, TicketField, WriteResult
from integrations.tickets.mapping import TicketMapping
from models.management import TicketSyncState

__all__ = [
    "Conflict",
    "InboundChange",
    "StateStore",
    "SyncReport",
    "TicketInterface",
    "create_ticket_interface",
]


class StateStore(Protocol):
    """The part of ``repositories.Repository[TicketSyncState]`` the sync uses."""

    def find(self, where: Mapping[str, Any] | None = None) -> list[TicketSyncState]: ...
    def create(self, obj: TicketSyncState) -> TicketSyncState: ...
    def update(self, record_id: str, changes: Mapping[str, Any]) -> TicketSyncState: ...


class Conflict(BaseModel):
    """A field changed on both sides since the last sync."""

    external_id: str
    field: str
    base: Any = None
    local: Any = None
    remote: Any = None


class InboundChange(BaseModel):
    """Remote changes to apply to a local record (``new`` when no local record existed)."""

    external_id: str
    fields: dict[str, Any]
    new: bool = False


class SyncReport(BaseModel):
    """What one sync did (or, on a dry run, would do)."""

    dry_run: bool = False
    inbound: list[InboundChange] = Field(default_factory=list)
    outbound: list[WriteResult] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    records: list[dict[str, Any]] = Field(default_factory=list)
    cursor: str | None = None
    full_read: bool = False


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class TicketInterface:
    """A connector seen through a ticket mapping."""

    def __init__(
        self,
        connector: TicketConnector,
        mapping: TicketMapping,
        *,
        states: StateStore | None = None,
        mandate_id: str | None = None,
    ) -> None:
        self.connector = connector
        self.mapping = mapping
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

    def sync(self, records: Sequence[Mapping[str, Any]], dry_run: bool = False) -> SyncReport:
        """Two-way sync of local ``records`` (rows keyed by the mapping's key field).

        Returns the report, whose ``records`` are the local records with inbound changes
        applied plus new rows for remote tickets without a local record. Nothing is written
        (remotely or to the state store) on a dry run.
        """
        if self.states is None or self.mandate_id is None:
            raise InvalidRequest("sync needs a TicketSyncState repository and a mandate_id")
        key = self.mapping.key_field
        definition_id = self.mapping.definition_id
        states = {
            s.external_id: s
            for s in self.states.find(
                where={"definition_id": definition_id, "mandate_id": self.mandate_id}
            )
        }
        local: dict[str, dict[str, Any]] = {}
        for record in records:
            if record.get(key) in (None, ""):
                raise ValueError(f"local record without {key!r}: creating tickets is not supported")
            local[str(record[key])] = dict(record)
        cursors = [s.cursor for s in states.values() if s.cursor]
        full = not cursors or any(ext not in states for ext in local)
        since = None if full else datetime.fromisoformat(max(cursors))
        tasks = self._read(updated_since=since)
        remote = {str(row[key]): row for row in self._rows(tasks)}
        stamps = [s for t in tasks if (s := self.connector.updated_at(t)) is not None]
        cursor = max([*cursors, *(s.astimezone(UTC).isoformat() for s in stamps)], default=None)
        report = SyncReport(dry_run=dry_run, cursor=cursor, full_read=full)

        outbound: dict[str, dict[str, Any]] = {}
        bases: dict[str, dict[str, Any]] = {}
        for ext in sorted(set(local) | set(remote)):
            state = states.get(ext)
            if ext not in remote and state is None:
                report.missing.append(ext)
                continue
            base = dict(state.fields) if state else {}
            remote_row = remote.get(ext, base)
            inbound, out, conflicts = self._merge(ext, base, local.get(ext), remote_row, state)
            report.conflicts.extend(conflicts)
            if inbound or (ext not in local and ext in remote):
                fields = inbound if ext in local else remote_row
                report.inbound.append(
                    InboundChange(external_id=ext, fields=fields, new=ext not in local)
                )
                base.update(inbound)
            if out:
                outbound[ext] = out
            bases[ext] = base

        if outbound:
            attrs = self.attributes() if self._needs_attributes() else {}
            tasks_out = [self.mapping.to_task(ext, out, attrs) for ext, out in outbound.items()]
            report.outbound = self.connector.write_tasks(tasks_out, dry_run=dry_run)
            for result in report.outbound:
                # a rejected field stays unsynced, so it is reported again next time
                if result.ok and result.task_id in outbound:
                    bases[result.task_id].update(outbound[result.task_id])

        merged = {ext: dict(row) for ext, row in local.items()}
        for change in report.inbound:
            merged.setdefault(change.external_id, {key: change.external_id}).update(change.fields)
        report.records = list(merged.values())
        if not dry_run:
            self._store(states, bases, set(remote) | set(outbound), local, cursor)
        return report

    def _merge(
        self,
        ext: str,
        base: dict[str, Any],
        local_row: dict[str, Any] | None,
        remote_row: dict[str, Any],
        state: TicketSyncState | None,
    ) -> tuple[dict[str, Any], dict[str, Any], list[Conflict]]:
        inbound: dict[str, Any] = {}
        outbound: dict[str, Any] = {}
        conflicts: list[Conflict] = []
        for name, rule in self.mapping.fields.items():
            if name == self.mapping.key_field:
                continue
            known = name in base
            b = _norm(base.get(name))
            has_l = local_row is not None and name in local_row
            lv = _norm(local_row.get(name)) if local_row is not None else None
            has_r = name in remote_row
            rv = _norm(remote_row.get(name))
            local_changed = has_l and rule.writable and (not known or lv != b)
            remote_changed = has_r and rule.readable and (not known or rv != b)
            if local_changed and remote_changed:
                if lv == rv:
                    base[name] = lv
                else:
                    conflicts.append(
                        Conflict(
                            external_id=ext, field=name, base=base.get(name), local=lv, remote=rv
                        )
                    )
            elif local_changed:
                if has_r and rule.readable and lv == rv:
                    base[name] = lv
                else:
                    outbound[name] = lv
            elif remote_changed:
                inbound[name] = rv
        return inbound, outbound, conflicts

    def _store(
        self,
        states: dict[str, TicketSyncState],
        bases: dict[str, dict[str, Any]],
        touched: set[str],
        local: dict[str, dict[str, Any]],
        cursor: str | None,
    ) -> None:
        assert self.states is not None and self.mandate_id is not None
        now = time.time()
        for ext, base in bases.items():
            state = states.get(ext)
            if state is not None and state.fields == base and ext not in touched:
                continue
            local_id = (local.get(ext) or {}).get("id")
            if state is None:
                self.states.create(
                    TicketSyncState(
                        mandate_id=self.mandate_id,
                        definition_id=self.mapping.definition_id,
                        external_id=ext,
                        local_id=None if local_id is None else str(local_id),
                        fields=base,
                        cursor=cursor,
                        synced_at=now,
                    )
                )
            else:
                self.states.update(state.id, {"fields": base, "cursor": cursor, "synced_at": now})


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    return out.lstrip("_")


def create_ticket_interface(
    connector_type: str,
    params: Mapping[str, Any],
    mapping: TicketMapping | Mapping[str, Any],
    *,
    states: StateStore | None = None,
    mandate_id: str | None = None,
) -> TicketInterface:
    """Build the connector named by ``connector_type`` (``jira``/``clickup``, any case).

    ``params`` take snake_case or the original camelCase names (``apiUrl``, ``teamId``...),
    plus connector keyword options such as ``client`` or ``concurrency``.

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
    return TicketInterface(connector, mapping, states=states, mandate_id=mandate_id)
