"""Keyset pages on SQL: a position's segments compiled into one statement.

A `Keyset` splits the rows after a position into segments (`Keyset.segments`), each a
plain conjunction led by a bound on one sort key. Each becomes a ``SELECT … ORDER BY …
LIMIT n`` whose leading key is sorted the way a btree index on it reads (no ``NULLS
LAST`` where the segment holds no null), so PostgreSQL walks an index from the bound and
stops after n rows, at any depth. Consecutive segments are ``UNION ALL``-ed into one
statement and the at most n rows each gives are put in the query's order (nulls last)
and cut to n. The segments of a key's nulls start a statement of their own, sent only
when the page is not full yet: one round trip for a page, two where it reaches the
nulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, select, union_all

from repositories.keyset import Keyset, Segment
from repositories.lookups import Condition, Order, Query

if TYPE_CHECKING:
    from repositories.sql import SqlRepository

__all__ = ["select_page"]


def _ordering(
    columns: Any, orders: Sequence[Order], plain: Sequence[bool]
) -> list[ColumnElement[Any]]:
    out = []
    for order, no_nulls in zip(orders, plain, strict=True):
        col = columns[order.field.storage]
        term = col.desc() if order.descending else col.asc()
        out.append(term if no_nulls else term.nulls_last())
    return out


def _stages(segments: list[Segment]) -> list[list[Segment]]:
    """Segments in runs, a new one at each ``IS NULL`` segment: the nulls of a sort key
    have no index order of their own (a table-wide scan where a tenant has none), so
    they are read only when the rows before them leave the page short."""
    stages: list[list[Segment]] = []
    for segment in segments:
        nulls = any(c.op == "isnull" and c.value for c in segment.conditions[-1:])
        if nulls or not stages:
            stages.append([])
        stages[-1].append(segment)
    return stages


def select_page(repo: SqlRepository[Any], query: Query, position: Keyset) -> list[dict[str, Any]]:
    """The rows of a keyset page (`query.limit` of them at most), as storage rows."""
    limit = query.limit or 0
    base = tuple(c for c in query.conditions if c.op != "after")
    rows: list[dict[str, Any]] = []
    for stage in _stages(position.segments()):
        rows += _run(repo, base, stage, query.orders, limit - len(rows))
        if len(rows) >= limit:
            break
    return rows


def _run(
    repo: SqlRepository[Any],
    base: tuple[Condition, ...],
    segments: list[Segment],
    orders: tuple[Order, ...],
    limit: int,
) -> list[dict[str, Any]]:
    """One statement: the first `limit` rows of consecutive segments, in order."""
    flat: list[Condition] = []
    spans = []
    for segment in segments:
        start = len(flat)
        flat += [*base, *segment.conditions]
        spans.append((start, len(flat)))
    clauses, params, shape = repo._sql.where(flat)
    key = (
        "page",
        shape,
        tuple(spans),
        tuple(
            (tuple((o.field.storage, o.descending) for o in s.orders), s.plain) for s in segments
        ),
        tuple((o.field.storage, o.descending) for o in orders),
    )

    def build() -> Any:
        where = clauses()
        bound = bindparam("page_limit", type_=BigInteger())
        parts = []
        for segment, (start, end) in zip(segments, spans, strict=True):
            stmt = select(repo.table)
            if end > start:
                stmt = stmt.where(*where[start:end])
            order = _ordering(repo.table.c, segment.orders, segment.plain)
            parts.append(stmt.order_by(*order).limit(bound))
        if len(parts) == 1:
            return parts[0]
        union = union_all(*(select(part.subquery()) for part in parts)).subquery("page")
        plain = [not o.field.nullable for o in orders]
        return select(union).order_by(*_ordering(union.c, orders, plain)).limit(bound)

    stmt = repo._sql.cached(key, build)
    params["page_limit"] = limit
    return repo._core.run(
        repo.info.table, lambda conn: repo._rows(conn.execute(stmt, params)), context=repo._who
    )
