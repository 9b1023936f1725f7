"""Two-way sync of local records with tickets, and what it decided (`SyncReport`).

Per ticket the last synced value of each field is kept (a ``TicketSyncState``). Per field:
only local changed -> written out; only remote changed -> taken in; both changed to
different values -> a conflict, left alone; both to the same value -> recorded as synced.
Without a stored value (the ticket's first sync), equal values are simply recorded; a
value that differs is a conflict only if both sides changed since the local copy was made,
else the side that changed wins: the remote did not change when the local row's copy of the
ticket's ``updated`` stamp still matches; the local record did not change when it was never
modified after it was created.

Reads are incremental: tickets updated since the stored cursor (the latest ``updated`` the
server reported, read in the server's time zone), tickets local records name that have no
state yet (fetched by id), and a cheap id scan that finds remote deletions (reported, and
their state dropped; local records are left to the caller). Local records without a key
become new tickets (the new key is recorded in the state and the record).

Everything decided is persisted together: inbound changes into the local repository (or
returned as ``records`` for plain rows) and the sync state, in one transaction when the
interface has the database. Nothing is written on a dry run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from integrations.tickets.base import CreateResult, WriteResult
from integrations.tickets.mapping import MappingError
from integrations.tickets.sync_store import merged_rows, persist

if TYPE_CHECKING:
    from integrations.tickets.interface import TicketInterface

__all__ = ["Conflict", "InboundChange", "SyncReport", "run_sync"]


class Conflict(BaseModel):
    """A field that cannot be synced without a decision.

    ``reason`` says why: both sides changed it (the default), or writing the local value
    would delete what the ticket holds and Markdown cannot show (``lossy``).
    """

    external_id: str
    field: str
    base: Any = None
    local: Any = None
    remote: Any = None
    reason: str = "changed on both sides"


class InboundChange(BaseModel):
    """Remote changes applied to a local record (``new`` when no local record existed)."""

    external_id: str
    fields: dict[str, Any]
    new: bool = False


class SyncReport(BaseModel):
    """What one sync did (or, on a dry run, would do).

    Attributes:
        inbound: remote changes taken in (persisted into the local repository).
        outbound: one write result per ticket written out.
        created: tickets created for local records without a key (in record order).
        conflicts: fields left alone, with the reason.
        missing: keys local records name that the service does not have (never synced).
        deleted: tickets synced before that are gone remotely.
        records: the local rows after the sync (plain-row syncs only).
        cursor: the stored incremental cursor (ISO 8601, from the server's stamps).
        full_read: whether every ticket was read (the first sync).
        persisted: local records created or updated.
    """

    dry_run: bool = False
    inbound: list[InboundChange] = Field(default_factory=list)
    outbound: list[WriteResult] = Field(default_factory=list)
    created: list[CreateResult] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    records: list[dict[str, Any]] = Field(default_factory=list)
    cursor: str | None = None
    full_read: bool = False
    persisted: int = 0


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass
class LocalRecord:
    """One local record: its row of mapped fields and, for repository records, the record."""

    row: dict[str, Any]
    record: Any = None

    @property
    def record_id(self) -> str | None:
        value = getattr(self.record, "id", None) if self.record is not None else self.row.get("id")
        return None if value is None else str(value)

    def edited(self) -> bool | None:
        """Whether the record was changed after it was created (None when unknown)."""
        created = getattr(self.record, "created_at", None)
        modified = getattr(self.record, "modified_at", None)
        if created is None or modified is None:
            return None
        return bool(modified > created + 1e-3)


@dataclass
class SyncPlan:
    bases: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbound: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)


def _is_repository(value: Any) -> bool:
    return all(hasattr(value, name) for name in ("model", "iter", "update", "create"))


def run_sync(
    interface: TicketInterface,
    local: Any,
    *,
    dry_run: bool = False,
    force: bool = False,
) -> SyncReport:
    """See `integrations.tickets.interface.TicketInterface.sync`."""
    mapping = interface.mapping
    key = mapping.key_field
    states = interface.state_map()
    connector = interface.connector
    repository = local if _is_repository(local) else None
    locals_ = _load_local(interface, local)
    keyed = {str(item.row[key]): item for item in locals_ if item.row.get(key) not in (None, "")}
    unkeyed = [item for item in locals_ if item.row.get(key) in (None, "")]

    cursors = [s.cursor for s in states.values() if s.cursor]
    full = not cursors or getattr(connector, "scan_reads_everything", False)
    since = None if full else datetime.fromisoformat(max(cursors))
    tasks = interface.read(updated_since=since)
    unknown = [ext for ext in keyed if ext not in states]
    if unknown and not full:
        tasks += list(_unique(connector.fetch_tasks(unknown).values()))
    remote = {str(row[key]): row for row in interface.rows(tasks) if row.get(key) is not None}
    stamps = [s for t in tasks if (s := connector.updated_at(t)) is not None]
    cursor = max([*cursors, *(s.astimezone(UTC).isoformat() for s in stamps)], default=None)
    report = SyncReport(dry_run=dry_run, cursor=cursor, full_read=full)

    alive = set(remote) if full else connector.scan_ids()
    gone = {ext for ext in states if ext not in alive and ext not in remote}
    report.deleted = sorted(gone)

    plan = SyncPlan()
    stamp_field = _stamp_field(interface)
    for ext in sorted(set(keyed) | set(remote)):
        state = states.get(ext)
        if ext in gone:
            continue
        if ext not in remote and state is None:
            report.missing.append(ext)
            continue
        base = dict(state.fields) if state else {}
        item = keyed.get(ext)
        remote_row = remote.get(ext, base)
        first = state is None
        inbound, out, conflicts = _merge(interface, ext, base, item, remote_row, first, stamp_field)
        report.conflicts.extend(conflicts)
        if inbound or item is None:
            fields = inbound if item is not None else remote_row
            report.inbound.append(InboundChange(external_id=ext, fields=fields, new=item is None))
            base.update(inbound)
        if out:
            plan.outbound[ext] = out
        plan.bases[ext] = base
        if ext in remote:
            plan.touched.add(ext)

    _write_out(interface, report, plan, keyed, dry_run, force)
    created_keys = _create(interface, report, unkeyed, plan, dry_run)
    if not dry_run:
        persist(interface, report, repository, locals_, keyed, states, plan, gone, created_keys)
    if repository is None:
        report.records = merged_rows(key, keyed, unkeyed, report, created_keys)
    return report


def _unique(tasks: Any) -> list[dict[str, Any]]:
    seen: set[int] = set()
    out = []
    for task in tasks:
        if id(task) not in seen:
            seen.add(id(task))
            out.append(task)
    return out


def _load_local(interface: TicketInterface, local: Any) -> list[LocalRecord]:
    names = list(interface.mapping.fields)
    if _is_repository(local):
        model_fields = set(local.model.model_fields)
        missing = [n for n in names if n not in model_fields]
        if missing:
            raise MappingError(
                f"{local.model.__name__} has no field {', '.join(map(repr, missing))} "
                "that the mapping names"
            )
        return [LocalRecord(row={n: getattr(r, n) for n in names}, record=r) for r in local.iter()]
    rows: Sequence[Mapping[str, Any]] = local
    return [LocalRecord(row=dict(r)) for r in rows]


def _stamp_field(interface: TicketInterface) -> str | None:
    """The mapping's field holding the ticket's ``updated`` stamp, if it has one."""
    path = getattr(interface.connector, "updated_path", None)
    return next(
        (n for n, m in interface.mapping.fields.items() if m.readable and m.path == path), None
    )


def _merge(
    interface: TicketInterface,
    ext: str,
    base: dict[str, Any],
    item: LocalRecord | None,
    remote_row: dict[str, Any],
    first: bool,
    stamp_field: str | None,
) -> tuple[dict[str, Any], dict[str, Any], list[Conflict]]:
    inbound: dict[str, Any] = {}
    outbound: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    local_row = item.row if item is not None else None
    for name, rule in interface.mapping.fields.items():
        if name == interface.mapping.key_field:
            continue
        known = name in base
        b = _norm(base.get(name))
        # a local None the base never knew is no value, not a change (an unset field)
        has_l = local_row is not None and name in local_row
        has_l = has_l and (known or (local_row or {}).get(name) is not None)
        lv = _norm(local_row.get(name)) if local_row is not None else None
        has_r = name in remote_row
        rv = _norm(remote_row.get(name))
        local_changed = has_l and rule.writable and (not known or lv != b)
        remote_changed = has_r and rule.readable and (not known or rv != b)
        if local_changed and remote_changed:
            if lv == rv:
                base[name] = lv
                continue
            if first:  # no base yet: whichever side did not move since the copy loses
                remote_moved = _remote_moved(local_row, remote_row, stamp_field)
                local_moved = item.edited() if item is not None else None
                if remote_moved is False:
                    outbound[name] = lv
                    continue
                if local_moved is False:
                    inbound[name] = rv
                    continue
            conflicts.append(
                Conflict(external_id=ext, field=name, base=base.get(name), local=lv, remote=rv)
            )
        elif local_changed:
            if has_r and rule.readable and lv == rv:
                base[name] = lv
            else:
                outbound[name] = lv
        elif remote_changed:
            inbound[name] = rv
    return inbound, outbound, conflicts


def _remote_moved(
    local_row: dict[str, Any] | None, remote_row: dict[str, Any], stamp_field: str | None
) -> bool | None:
    if stamp_field is None or local_row is None or local_row.get(stamp_field) is None:
        return None
    return bool(_norm(local_row.get(stamp_field)) != _norm(remote_row.get(stamp_field)))


def _write_out(
    interface: TicketInterface,
    report: SyncReport,
    plan: SyncPlan,
    keyed: dict[str, LocalRecord],
    dry_run: bool,
    force: bool,
) -> None:
    if not plan.outbound:
        return
    attrs = interface.option_attributes()
    tasks = [interface.mapping.to_task(ext, out, attrs) for ext, out in plan.outbound.items()]
    report.outbound = interface.connector.write_tasks(tasks, dry_run=dry_run, force=force)
    for ext, result in zip(plan.outbound, report.outbound, strict=False):
        out = plan.outbound[ext]
        names = {interface.mapping.connector_name(n): n for n in out}
        for connector_field, nodes in result.lossy.items():
            name = names.get(connector_field, connector_field)
            reason = f"writing it would delete {', '.join(nodes)} (sync with force=True)"
            report.conflicts.append(
                Conflict(external_id=ext, field=name, local=out.get(name), reason=reason)
            )
        if dry_run or result.status not in ("updated", "unchanged"):
            continue  # nothing written: stays unsynced, so it is reported again
        refused = set(result.rejected) | set(result.lossy)
        written = {
            n: v for n, v in out.items() if interface.mapping.connector_name(n) not in refused
        }
        plan.bases[ext].update(written)


def _create(
    interface: TicketInterface,
    report: SyncReport,
    unkeyed: list[LocalRecord],
    plan: SyncPlan,
    dry_run: bool,
) -> dict[int, str]:
    """Create tickets for the local rows without a key; the new key per row index."""
    if not unkeyed:
        return {}
    mapping = interface.mapping
    attrs = interface.option_attributes()
    sent = [
        {n: v for n, v in item.row.items() if n in mapping.fields and n != mapping.key_field
         and mapping.fields[n].writable and v not in (None, "")}
        for item in unkeyed
    ]  # fmt: skip
    tasks = [mapping.to_task(None, fields, attrs) for fields in sent]
    report.created = interface.connector.create_tasks(tasks, dry_run=dry_run)
    key_path = mapping.fields[mapping.key_field].path
    keys: dict[int, str] = {}
    for result, fields in zip(report.created, sent, strict=True):
        if result.status != "created":
            continue
        new_key = result.key if key_path in ("key", "custom_id") else result.task_id
        if new_key:
            keys[result.index] = new_key
            plan.bases[new_key] = {n: _norm(v) for n, v in fields.items()}
            plan.touched.add(new_key)
    return keys
