"""Keyset pages on SQL: a position's segments compiled into one statement.

A `Keyset` splits the rows after a position into segments (`Keyset.segments`), each a
plain conjunction led by a bound on one sort key. Each becomes a ``SELECT … ORDER BY …
LIMIT n`` whose leading key is sorted the way a btree index on it reads (no ``NULLS
LAST`` where the segment holds no null), so PostgreSQL walks an index from the bound and
stops after n rows, at any depth. One segment is the whole statement; several are
``UNION ALL``-ed and the at most n rows each gives are put in the query's order (nulls
last) and cut to n. One statement, so one snapshot, and one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, select, union_all

from repositories.keyset import Keyset
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


def select_page(repo: SqlRepository[Any], query: Query, position: Keyset) -> list[dict[str, Any]]:
    """The rows of a keyset page (`query.limit` of them at most), as storage rows."""
    base: list[Condition] = [c for c in query.conditions if c.op != "after"]
    segments = position.segments()
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
        tuple((o.field.storage, o.descending) for o in query.orders),
    )

    def build() -> Any:
        where = clauses()
        limit = bindparam("page_limit", type_=BigInteger())
        parts = []
        for segment, (start, end) in zip(segments, spans, strict=True):
            stmt = select(repo.table)
            if end > start:
                stmt = stmt.where(*where[start:end])
            order = _ordering(repo.table.c, segment.orders, segment.plain)
            parts.append(stmt.order_by(*order).limit(limit))
        if len(parts) == 1:
            return parts[0]
        union = union_all(*(select(part.subquery()) for part in parts)).subquery("page")
        plain = [not o.field.nullable for o in query.orders]
        return select(union).order_by(*_ordering(union.c, query.orders, plain)).limit(limit)

    stmt = repo._sql.cached(key, build)
    params["page_limit"] = query.limit
    return repo._core.run(repo.info.table, lambda conn: repo._rows(conn.execute(stmt, params)))
