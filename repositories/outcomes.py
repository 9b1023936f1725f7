"""Writes whose connection dropped: settled with our own audit stamps, never guessed.

A backend raises `OutcomeUnknown` from a write primitive when the connection dropped
after the statement may have reached the database, and `TransactionLost` when it
dropped inside a transaction before the commit was sent (the database rolls that back).
The shared core then reads the record back (reads may be retried) and decides:

- **proved applied**: the row carries exactly the stamps this write sent
  (``_createdAt``/``_createdBy`` for a create, ``_modifiedAt``/``_modifiedBy`` for an
  update) → the write succeeded;
- **proved not applied**: no row with the id (create), ``_modifiedAt`` still equal to the
  expected one (compare-and-set update), the row still there (delete), or a transaction
  of the core's own lost before its commit → the write is run once more, exactly as it
  would have run the first time;
- otherwise `OutcomeUnknown` reaches the caller: never a DuplicateRecord,
  ConcurrentModification or ``False`` that could be false.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from repositories.errors import OutcomeUnknown, TransactionLost
from repositories.lookups import Condition, Query

if TYPE_CHECKING:
    from repositories.base import RepositoryBase

__all__ = ["again_if_lost", "settle_delete", "settle_insert", "settle_update"]

R = TypeVar("R")
Row = dict[str, Any]


def again_if_lost(repo: RepositoryBase[Any], work: Callable[[], R]) -> R:
    """Run `work` (a transaction of the core's own); once more if it was lost unapplied.

    Not when the caller's transaction encloses it: that one is lost as a whole.
    """
    try:
        return work()
    except TransactionLost:
        if repo.database.in_transaction:
            raise
    return work()


def _rows_by_id(repo: RepositoryBase[Any], ids: Sequence[str]) -> list[Row]:
    """The rows with these ids, whatever the context's scope (what is stored decides)."""
    return repo._select_rows(Query((Condition(repo.info.by_name["id"], "in", tuple(ids)),)))


def settle_insert(
    repo: RepositoryBase[Any], rows: list[Row], operation: str, again: Callable[[], None]
) -> None:
    """After `OutcomeUnknown` from inserting `rows` (one stamp for all): return if they
    are all there as ours, insert them `again` if none is there, else re-raise."""
    stamp = (rows[0]["_createdAt"], rows[0]["_createdBy"])
    found = _rows_by_id(repo, [r["id"] for r in rows])
    ours = [r for r in found if (r.get("_createdAt"), r.get("_createdBy")) == stamp]
    if len(ours) == len(rows):
        return
    record_id = rows[0]["id"] if len(rows) == 1 else None
    if found:
        raise OutcomeUnknown(repo.info.table, operation, record_id)
    try:
        again()
    except (OutcomeUnknown, TransactionLost) as exc:
        raise OutcomeUnknown(repo.info.table, operation, record_id) from exc


def settle_update(
    repo: RepositoryBase[Any],
    record_id: str,
    conditions: Sequence[Condition],
    values: Row,
    now: float,
    expected: float | None,
) -> Row | None:
    """After `OutcomeUnknown` from `_update_row`: the row if the update is proved
    applied, the result of running it once more if proved not applied, else re-raise."""
    found = _rows_by_id(repo, [record_id])
    if found:
        row = found[0]
        if row.get("_modifiedAt") == now and row.get("_modifiedBy") == values["_modifiedBy"]:
            return row
        if expected is not None and row.get("_modifiedAt") == expected:
            try:
                return repo._update_row(record_id, conditions, values, now)
            except OutcomeUnknown as exc:
                raise OutcomeUnknown(repo.info.table, "update", record_id) from exc
    raise OutcomeUnknown(repo.info.table, "update", record_id)


def settle_delete(
    repo: RepositoryBase[Any], record_id: str, conditions: Sequence[Condition], started: float
) -> int:
    """After `OutcomeUnknown` from deleting one record: run it once more while the row
    (created before this delete began) is still there; gone, it is unknown who took it."""
    found = _rows_by_id(repo, [record_id])
    created = found[0].get("_createdAt") if found else None
    if isinstance(created, int | float) and created < started:
        try:
            return repo._delete_rows(conditions)
        except OutcomeUnknown as exc:
            raise OutcomeUnknown(repo.info.table, "delete", record_id) from exc
    raise OutcomeUnknown(repo.info.table, "delete", record_id)
