"""`JsonRepository`: the contract's storage primitives on one table directory.

Reads go through the table's cached view (`TableState`): the indexes pick candidates,
`repositories.lookups.matches` and `sort_rows` decide, exactly as the SQL backends are
held to. Finds validate each row's cached bytes straight into a model, so callers never
share an object with the cache. Writes run under the table lock (and inside a
transaction, record the files' previous bytes for a rollback).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import operator
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from models.base import Record
from repositories.base import MODIFIED_AT_STEP, DatabaseBase, RepositoryBase
from repositories.errors import DuplicateRecord, StoreCorrupted
from repositories.jsonstore import files
from repositories.jsonstore.index import Plan
from repositories.jsonstore.store import Store
from repositories.jsonstore.table import TableState
from repositories.jsonstore.writes import Undo
from repositories.keyset import Keyset
from repositories.lookups import Condition, Order, Query, matches, sort_rows

__all__ = ["JsonRepository"]

T = TypeVar("T", bound=Record)
Row = dict[str, Any]

_by_id = operator.itemgetter("id")


def _clone(value: dict[str, Any] | list[Any]) -> Any:
    """A deep copy of a JSON container (scalars are immutable and shared)."""
    if isinstance(value, dict):
        return {k: _clone(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    return [_clone(v) if isinstance(v, dict | list) else v for v in value]


def _unshare(value: dict[str, Any] | list[Any]) -> None:
    """Replace the containers held by a fresh container with copies (in place)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                value[key] = _clone(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                value[index] = _clone(item)


def _split_id_position(
    conditions: Sequence[Condition], orders: Sequence[Order]
) -> tuple[Sequence[Condition], str | None]:
    """A keyset page in id order: its conditions without the position, and the id the
    page starts after (None: the first page, or not such a page)."""
    if not conditions or conditions[-1].op != "after" or len(orders) != 1:
        return conditions, None
    keyset = conditions[-1].value
    if not (
        isinstance(keyset, Keyset)
        and len(keyset.orders) == 1
        and keyset.orders[0].field.name == "id"
        and not keyset.orders[0].descending
        and orders[0] == keyset.orders[0]
    ):
        return conditions, None
    if not keyset.values:
        return conditions[:-1], None
    bound = keyset.values[0]
    if not isinstance(bound, str):
        return conditions, None
    return conditions[:-1], bound


def _is_container(annotation: Any) -> bool:
    """Whether a field is typed ``dict[...]`` or ``list[...]`` (optionally Optional)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_container(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_container(args[0])
    return origin in (dict, list)


class _Write:
    """``with``: the table locked (`TableState.take`) and no undo log (no transaction)."""

    __slots__ = ("_state",)

    def __init__(self, state: TableState) -> None:
        self._state = state

    def __enter__(self) -> None:
        self._state.take()

    def __exit__(self, *exc: object) -> None:
        self._state.lock.release()


class _Check:
    """A query's conditions as evaluated on its candidates: on a cached row (consistent
    with the index) those the index did not answer, on a row read from its file just
    now (it may have changed since the index learned of it) all of them."""

    __slots__ = ("_answered", "_conditions", "_every", "_rest")

    def __init__(self, conditions: Sequence[Condition], answered: set[int]) -> None:
        self._conditions = conditions
        self._answered = answered
        self._rest: Callable[[Row], bool] | None = None
        self._every: Callable[[Row], bool] | None = None

    def rest(self) -> Callable[[Row], bool]:
        if self._rest is None:
            rest = [c for i, c in enumerate(self._conditions) if i not in self._answered]
            self._rest = matches(rest)
        return self._rest

    def fetch(self, state: TableState, record_id: str) -> Row | None:
        """The candidate's row if it meets the query, else None."""
        found = state.fetch(record_id)
        if found is None:
            return None
        row, cached = found
        if cached:
            return row if self.rest()(row) else None
        if self._every is None:
            self._every = matches(self._conditions)
        return row if self._every(row) else None


class JsonRepository(RepositoryBase[T]):
    """`Repository` on one table directory."""

    def __init__(self, model: type[T], database: DatabaseBase, store: Store) -> None:
        super().__init__(model, database)
        self._core = store
        self.state = self._core.state(self.info)
        json_fields = [f for f in self.info.fields if f.kind == "json"]
        self._json_keys = [f.storage for f in json_fields]
        # dict[...]/list[...] fields come out of validation as fresh containers holding the
        # cached row's nested ones: copying just those is enough (and cheaper than a copy
        # of the whole row first); other JSON shapes (Any, nested models) are copied first.
        self._unshare_after = all(_is_container(f.annotation) for f in json_fields)
        self._json_pairs = [(f.name, f.storage) for f in json_fields]
        self._held = contextlib.nullcontext(self.state)  # a table a transaction holds

    # --- access -------------------------------------------------------------------------

    def _reading(self) -> contextlib.AbstractContextManager[TableState]:
        """Lock-free outside a transaction (the in-process layer only); inside one, the
        table stays locked until the transaction ends."""
        tx = self._core.current()
        if tx is None:
            return self.state.reading()
        self._core.enter(tx, self.state)
        return self._held

    def _writing(self) -> contextlib.AbstractContextManager[Undo | None]:
        """The table locked, the view current; yields the transaction's undo log, if any."""
        tx = self._core.current()
        if tx is None:
            return _Write(self.state)
        self._core.enter(tx, self.state)  # released when the transaction ends
        return contextlib.nullcontext(tx.undo)

    def _rows(self, conditions: Sequence[Condition]) -> list[Row]:
        """Rows meeting every condition, as stored in the file each was read from.

        The index picks the candidates; a cached row (consistent with the index) is
        checked against the conditions the index did not answer, a row read from its
        file just now (it may have changed since the index learned of it) against all.
        Records a writer has announced but not committed are read and checked too.
        """
        state = self.state
        plan = state.plan(conditions)
        ids = list(plan.ids(state.ids))
        if state.pending:
            known = set(ids)
            ids += [rid for rid in state.pending if rid not in known]
        check = _Check(conditions, plan.answered)
        rest = check.rest()
        cached = state.rows
        out = []
        for record_id in ids:
            row = cached.get(record_id)
            if row is None:
                row = check.fetch(state, record_id)
                if row is not None:
                    out.append(row)
            elif rest(row):  # never one of `pending`: an announcement evicts
                out.append(row)
        return out

    def _detach(self, row: Row) -> Row:
        """A copy callers may mutate without touching the cache."""
        out = dict(row)
        for key in self._json_keys:
            value = out.get(key)
            if isinstance(value, dict | list) and value:
                out[key] = _clone(value)
        return out

    # --- primitives -------------------------------------------------------------------

    def _insert_rows(self, rows: list[Row]) -> None:
        for row in rows:
            files.validate_record_id(self.info.table, row["id"])
        with self._writing() as undo:
            self._insert_checked(rows, undo)

    def _insert_checked(self, rows: list[Row], undo: Undo | None) -> None:
        state = self.state
        for row in rows:
            if row["id"] in state.ids:
                raise DuplicateRecord(self.info.table, row["id"])
        if state.corrupted:  # an unreadable file holds one of these ids: say so
            state.plan([Condition(self._id_spec, "in", tuple(row["id"] for row in rows))])
        state.write_rows(rows, undo, new=True)

    def _insert_many(self, rows: list[Row], batch_size: int) -> None:
        """One lock, one all-or-nothing transaction, one directory fsync per batch."""
        for row in rows:
            files.validate_record_id(self.info.table, row["id"])
        with self._core.transaction([self.state]), self._writing() as undo:
            state = self.state
            for row in rows:
                if row["id"] in state.ids:
                    raise DuplicateRecord(self.info.table, row["id"])
            if state.corrupted:
                state.plan([Condition(self._id_spec, "in", tuple(row["id"] for row in rows))])
            for start in range(0, len(rows), batch_size):
                self.state.write_rows(rows[start : start + batch_size], undo, new=True)

    def _select_rows(self, query: Query) -> list[Row]:
        with self._reading():
            rows = self._page(query.conditions, query.orders, query.limit, query.offset)
        return [self._detach(row) for row in rows]

    def _page(
        self,
        conditions: Sequence[Condition],
        orders: Sequence[Order],
        limit: int | None,
        offset: int,
    ) -> list[Row]:
        rows = self._sorted(self._rows(conditions), orders)
        return rows[offset : None if limit is None else offset + limit]

    @staticmethod
    def _by_id_only(orders: Sequence[Order]) -> bool:
        return len(orders) == 1 and orders[0].field.name == "id" and not orders[0].descending

    def _over_sorted_ids(
        self, plan: Plan, conditions: Sequence[Condition], orders: Sequence[Order]
    ) -> bool:
        """Whether the index answers every condition and the order is by id (or none), so
        the candidates' sorted ids are the answer's order; nothing announced is pending."""
        return (
            len(plan.answered) == len(conditions)
            and (not orders or self._by_id_only(orders))
            and not self.state.pending
        )

    @classmethod
    def _sorted(cls, rows: list[Row], orders: Sequence[Order]) -> list[Row]:
        if cls._by_id_only(orders):
            rows.sort(key=_by_id)  # the default order; ids are never null
            return rows
        return sort_rows(rows, orders) if orders else rows

    def _select_models(self, query: Query) -> list[T]:
        """`find`'s fast path: the cached bytes of each row validated into a model."""
        with self._reading():
            found = self._collect(query)
        return self._models(found)

    def _models(self, found: list[bytes | Row]) -> list[T]:
        """Cached bytes (or rows) as models sharing nothing with the cache.

        Validating JSON builds fresh objects (nothing shared with the cache) and, with the
        bytes compact in memory, beats walking the cached dicts; a row without cached bytes
        is validated, then its containers are unshared (`_model_of`).
        """
        validate_json = self.model.model_validate_json
        try:
            return [
                validate_json(item) if isinstance(item, bytes) else self._model_of(item)
                for item in found
            ]
        except ValidationError as exc:
            for item in found:  # name the bad record if the dict form fails as well
                self._load(json.loads(item) if isinstance(item, bytes) else item)
            raise StoreCorrupted(
                f"{self.info.table}: a stored record does not validate: {exc}"
            ) from exc

    def _collect(self, query: Query) -> list[bytes | Row]:
        """The page's cached bytes (or rows where no bytes are cached), in order."""
        state = self.state
        conditions, orders = query.conditions, query.orders
        limit, offset = query.limit, query.offset
        if state.corrupted:
            state.refuse_corrupted(conditions)
        # a keyset page in id order: its position is a bound on the ids alone
        indexed, after = _split_id_position(conditions, orders)
        plan = state.index.plan(indexed)
        if self._over_sorted_ids(plan, indexed, orders):
            # the index answered the filter and the order is by id: page over sorted ids
            # (only as many as the page needs); no cached dict is touched unless its
            # bytes are not cached
            candidates = plan.id_collection(state.ids)
            if after is not None:
                candidates = [rid for rid in candidates if rid > after]
            want = None if limit is None else offset + limit
            if want is not None and want * 4 < len(candidates):
                nearest = heapq.nsmallest(want, candidates)
                found = self._by_ids(nearest[offset:], plan, indexed, limit)
                if len(found) == limit:
                    return found
                # a candidate no longer matched (its file changed): take the next ones
            return self._by_ids(sorted(candidates)[offset:], plan, indexed, limit)
        out: list[bytes | Row] = []
        for row in self._page(conditions, orders, limit, offset):
            record_id = row["id"]
            data = state.raw.get(record_id) if state.rows.get(record_id) is row else None
            out.append(row if data is None else data)
        return out

    def _by_ids(
        self, ids: list[str], plan: Plan, conditions: Sequence[Condition], limit: int | None
    ) -> list[bytes | Row]:
        """The cached bytes (else rows) of the first `limit` candidate `ids` (the plan's,
        under the same lock), skipping a candidate whose file no longer matches."""
        state = self.state
        found: list[bytes | Row] = []
        check: _Check | None = None
        for record_id in ids:  # under one lock: bytes and rows of one version
            if limit is not None and len(found) >= limit:
                break
            data = state.raw.get(record_id)
            if data is None:
                check = check or _Check(conditions, plan.answered)
                row = check.fetch(state, record_id)
                if row is not None:
                    found.append(row)
            else:
                found.append(data)
        return found

    def _model_of(self, row: Row) -> T:
        """A model from a cached row, sharing no container with it."""
        if not self._unshare_after:
            return self.model.model_validate(self._detach(row))
        model = self.model.model_validate(row)
        for name, key in self._json_pairs:
            value = model.__dict__.get(name)
            if isinstance(value, dict | list) and value:
                container: dict[str, Any] | list[Any] = value
                if value is row.get(key):  # validation kept the cached container
                    model.__dict__[name] = _clone(container)
                else:
                    _unshare(container)
        return model

    def _iter_models(self, query: Query, batch_size: int) -> Iterator[list[T]]:
        """Streams a big table: in id order (or none) under a filter the index answers,
        the candidates' ids are taken when iteration starts and each batch's records are
        read when that batch is reached, so the first batch comes after `batch_size`
        reads, not after all of them, and a reader of a cold table overlaps the caller's
        work. A record deleted meanwhile is skipped, one changed meanwhile comes as it is
        then if it still matches, one created meanwhile is not included. Other orders
        read every match first (they must be sorted).
        """
        state = self.state
        with self._reading():
            plan = state.plan(query.conditions)
            streams = self._over_sorted_ids(plan, query.conditions, query.orders)
            ids = sorted(plan.id_collection(state.ids)) if streams else []
        if not streams:
            yield from super()._iter_models(query, batch_size)
            return
        for start in range(0, len(ids), batch_size):
            with self._reading():
                plan = state.plan(query.conditions)  # as the index is now
                pending = state.pending
                every = state.ids
                batch = [
                    rid
                    for rid in ids[start : start + batch_size]
                    if rid in pending or plan.holds(rid, every)
                ]
                found = self._by_ids(batch, plan, query.conditions, None)
            if found:
                yield self._models(found)

    def _iter_rows(self, query: Query, batch_size: int) -> Iterator[list[Row]]:
        with self._reading():
            rows = self._rows(query.conditions)
        rows = self._sorted(rows, query.orders)
        for start in range(0, len(rows), batch_size):
            yield [self._detach(row) for row in rows[start : start + batch_size]]

    def _count_rows(self, conditions: Sequence[Condition]) -> int:
        with self._reading() as state:
            if not conditions:
                state.plan(conditions)  # an unreadable record file is never counted
                return len(state.ids)
            plan = state.plan(conditions)
            if len(plan.answered) < len(conditions):
                return len(self._rows(conditions))
            # the index answers every condition: a candidate whose row or bytes are cached
            # is consistent with it (an announcement evicts) and counts without a parse;
            # the others are read and checked as `_rows` would
            rows, raw = state.rows, state.raw
            candidates = plan.id_collection(state.ids)  # walked twice with pending ids
            count = 0
            unsure: list[str] = []
            for record_id in candidates:
                if record_id in rows or record_id in raw:
                    count += 1
                else:
                    unsure.append(record_id)
            if state.pending:
                known = set(candidates)
                unsure += [rid for rid in state.pending if rid not in known]
            if unsure:
                check = _Check(conditions, plan.answered)
                count += sum(check.fetch(state, rid) is not None for rid in unsure)
            return count

    def _update_row(
        self,
        record_id: str,
        conditions: Sequence[Condition],
        values: dict[str, Any],
        now: float,
    ) -> Row | None:
        with self._writing() as undo:
            if self.state.corrupted:
                self.state.plan(conditions)
            row = self.state.row(record_id)
            if row is None or not matches(conditions)(row):
                return None
            new = {**row, **values}
            old = row.get("_modifiedAt")
            base = float(old) if isinstance(old, int | float) else 0.0
            new["_modifiedAt"] = max(now, base + MODIFIED_AT_STEP)
            self.state.write_rows([new], undo)
            return self._detach(new)

    def _delete_rows(self, conditions: Sequence[Condition]) -> int:
        with self._writing() as undo:
            ids = [row["id"] for row in self._rows(conditions)]
            if ids:
                self.state.delete_rows(ids, undo)
            return len(ids)
