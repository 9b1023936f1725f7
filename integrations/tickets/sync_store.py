"""Persisting what a sync decided: local records and sync state, in one transaction."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from integrations.tickets.mapping import MappingError
from models.management import TicketSyncState

if TYPE_CHECKING:
    from integrations.tickets.interface import TicketInterface
    from integrations.tickets.sync import LocalRecord, SyncPlan, SyncReport

__all__ = ["merged_rows", "persist"]


def persist(
    interface: TicketInterface,
    report: SyncReport,
    repository: Any,
    locals_: list[LocalRecord],
    keyed: dict[str, LocalRecord],
    states: dict[str, TicketSyncState],
    plan: SyncPlan,
    gone: set[str],
    created_keys: dict[int, str],
) -> None:
    key = interface.mapping.key_field
    new_records: list[Any] = []
    if repository is not None:  # build before writing: a record that cannot be made fails early
        for change in report.inbound:
            if change.new:
                row = {key: change.external_id, **change.fields}
                try:
                    new_records.append(repository.model(**row))
                except ValidationError as exc:
                    raise MappingError(
                        f"ticket {change.external_id}: cannot make a "
                        f"{repository.model.__name__} from the mapped fields: "
                        + "; ".join(
                            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                        )
                    ) from exc
    db = getattr(interface, "db", None)
    local_ids = {ext: item.record_id for ext, item in keyed.items()}
    unkeyed = [item for item in locals_ if item.row.get(key) in (None, "")]
    for index, new_key in created_keys.items():
        local_ids[new_key] = unkeyed[index].record_id
    with db.transaction() if db is not None else contextlib.nullcontext():
        if repository is not None:
            for change in report.inbound:
                item = keyed.get(change.external_id)
                if not change.new and item is not None and item.record is not None:
                    repository.update(item.record.id, change.fields)
                    report.persisted += 1
            for record in new_records:
                created = repository.create(record)
                local_ids[str(getattr(created, key))] = str(created.id)
                report.persisted += 1
            for index, new_key in created_keys.items():
                repository.update(unkeyed[index].record.id, {key: new_key})
                report.persisted += 1
        _store_states(interface, states, plan, local_ids, gone, report.cursor)


def _store_states(
    interface: TicketInterface,
    states: dict[str, TicketSyncState],
    plan: SyncPlan,
    local_ids: dict[str, str | None],
    gone: set[str],
    cursor: str | None,
) -> None:
    store = interface.require_states()
    now = time.time()
    for ext in sorted(gone):
        delete = getattr(store, "delete", None)
        if delete is not None:
            delete(states[ext].id)
    for ext, base in plan.bases.items():
        state = states.get(ext)
        if state is not None and state.fields == base and ext not in plan.touched:
            continue
        local_id = local_ids.get(ext)
        if state is None:
            store.create(
                TicketSyncState(
                    mandate_id=interface.mandate_id or "",
                    definition_id=interface.mapping.definition_id,
                    external_id=ext,
                    local_id=local_id,
                    fields=base,
                    cursor=cursor,
                    synced_at=now,
                )
            )
        else:
            store.update(state.id, {"fields": base, "cursor": cursor, "synced_at": now})


def merged_rows(
    key: str,
    keyed: dict[str, LocalRecord],
    unkeyed: list[LocalRecord],
    report: SyncReport,
    created_keys: dict[int, str],
) -> list[dict[str, Any]]:
    merged = {ext: dict(item.row) for ext, item in keyed.items()}
    for change in report.inbound:
        merged.setdefault(change.external_id, {key: change.external_id}).update(change.fields)
    rows = list(merged.values())
    for index, item in enumerate(unkeyed):
        rows.append({**item.row, key: created_keys.get(index, item.row.get(key))})
    return rows
