"""Keyset pages: `Page`, the opaque ``next`` token, and the position it stands for.

``repo.page(order_by=…, limit=50, after=token)`` returns the rows strictly after the last
row of the previous page in the query's order (its sort values plus its id, the final
tiebreak, so every row has exactly one position). Unlike ``offset``, whose cost grows
with the offset, a keyset page costs the same at any depth, and rows inserted or deleted
meanwhile never shift it: among rows that existed when paging began none is skipped or
repeated, whatever was inserted since (a row whose sort values change meanwhile moves
with them).

The position is a `Keyset`: as a `Condition` (op ``after``, never parsed from a where)
it is evaluated by `predicate` on the JSON store, like any other condition; the SQL
backend compiles its `segments`, plain conditions whose union, each ordered by what
remains, is the rest of the order. Every segment leads with a bound (or an ``IS [NOT]
NULL``) on one sort key and is sorted by that key without the ``NULLS LAST`` the whole
order needs, so a btree index on it serves the segment whichever way it is read.

The token is base64url JSON of the sort values with a check over them and a fingerprint
of the query (table, filter, access scope, order). It is not a secret and not a
signature: it only holds values of a row the caller has already seen. A token that is
malformed, altered, or made for another query (or another tenant's scope) is refused with
`InvalidQuery` before anything is sent to a database; its values are validated like any
filter value and always travel as bind parameters.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.base import Record
from models.schema import FieldSpec
from repositories.errors import InvalidQuery
from repositories.lookups import Condition, Order, comparable, storage_value
from repositories.values import short

__all__ = ["MAX_PAGE", "Keyset", "Page", "Segment", "decode_token", "encode_token", "fingerprint"]

T = TypeVar("T", bound=Record)

#: The largest page; more rows at once is what ``iter()`` is for.
MAX_PAGE = 10_000
_VERSION = 1
_MAX_TOKEN = 16_384
_CHECK_BYTES = 12


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paged query.

    Attributes:
        items: the records of this page, in the query's order.
        next: the token of the following page (``after=`` it), None on the last page.
    """

    items: list[T]
    next: str | None


@dataclass(frozen=True, slots=True)
class Segment:
    """A part of the rows after a position: conditions, and the order within them.

    `plain[i]` says that `orders[i]` holds no null in this segment (or none at all), so
    it may be sorted without ``NULLS LAST``.
    """

    conditions: tuple[Condition, ...]
    orders: tuple[Order, ...]
    plain: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class Keyset:
    """The rows strictly after the row whose sort values are `values`, in `orders`.

    `orders` end with the ``id`` tiebreak (`parse_order`); `values` hold one storage
    value per order, or nothing at all for the first page.
    """

    orders: tuple[Order, ...]
    values: tuple[Any, ...] = ()

    def condition(self) -> Condition:
        """This position as a condition the shared lookup machinery evaluates."""
        return Condition(self.orders[0].field, "after", self)

    def predicate(self) -> Callable[[Mapping[str, Any]], bool]:
        """Whether a storage row comes after the position (nulls sort last either way)."""
        if not self.values:
            return lambda row: True
        keys = [(o.field, o.descending, v) for o, v in zip(self.orders, self.values, strict=True)]

        def after(row: Mapping[str, Any]) -> bool:
            for spec, descending, bound in keys:
                held = comparable(spec, row.get(spec.storage))
                if held is None or bound is None:
                    if held is None and bound is None:
                        continue  # equal: the next key decides
                    return held is None  # a null comes after every value
                if held != bound:
                    return bool(held < bound) if descending else bool(held > bound)
            return False  # the row at the position itself

        return after

    def segments(self) -> list[Segment]:
        """The rows after the position as disjoint segments (their union, re-sorted, is
        the rest of the order; each needs only its own first rows)."""
        orders = self.orders
        if not self.values:
            return _from_start(orders)
        out: list[Segment] = []
        for i in range(len(orders) - 1, -1, -1):  # the longest shared prefix comes first
            bound = self.values[i]
            if bound is None:
                continue  # nothing sorts after a null but other nulls (equal here)
            prefix = tuple(
                _equal(o.field, v) for o, v in zip(orders[:i], self.values, strict=False)
            )
            key, rest = orders[i], orders[i + 1 :]
            past = Condition(key.field, "lt" if key.descending else "gt", bound)
            out.append(Segment((*prefix, past), (key, *rest), (True, *_plain(rest))))
            if key.field.nullable:
                null = Condition(key.field, "isnull", True)
                out.append(Segment((*prefix, null), rest, _plain(rest)))
        return out

    def values_of(self, record: Record) -> tuple[Any, ...]:
        """The sort values of `record` (its position, for the next page's token)."""
        values = []
        for order in self.orders:
            value = getattr(record, order.field.name)
            values.append(None if value is None else _storage(order.field, value, "page"))
        return tuple(values)


def _plain(orders: Sequence[Order]) -> tuple[bool, ...]:
    return tuple(not o.field.nullable for o in orders)


def _equal(spec: FieldSpec, value: Any) -> Condition:
    return Condition(spec, "isnull", True) if value is None else Condition(spec, "eq", value)


def _from_start(orders: tuple[Order, ...]) -> list[Segment]:
    first = orders[0]
    if not first.field.nullable:
        return [Segment((), orders, _plain(orders))]
    rest = orders[1:]
    return [
        Segment((Condition(first.field, "isnull", False),), orders, (True, *_plain(rest))),
        Segment((Condition(first.field, "isnull", True),), rest, _plain(rest)),
    ]


def _storage(spec: FieldSpec, value: Any, where: str) -> Any:
    if spec.kind == "json":  # parse_order refuses JSON fields; a token never holds one
        raise InvalidQuery(f"{where}: cannot page by JSON field {spec.name!r}")
    return storage_value(spec, value, where)


# --- the token ---------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if isinstance(value, Keyset):
        raise InvalidQuery("a page query cannot hold another page position")
    return value


def fingerprint(table: str, conditions: Sequence[Condition], orders: Sequence[Order]) -> bytes:
    """What a token is bound to: the table, the filter and scope, and the order."""
    terms = sorted(
        json.dumps([c.field.storage, c.op, _canonical(c.value)], sort_keys=True, default=str)
        for c in conditions
    )
    shape = [table, terms, [(o.field.storage, o.descending) for o in orders]]
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).digest()


def _check(bound_to: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(bound_to + payload).digest()[:_CHECK_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_token(bound_to: bytes, values: Sequence[Any]) -> str:
    """The opaque token of a position (`values`) for the query `bound_to` identifies."""
    encoded = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    payload = json.dumps([_VERSION, encoded], separators=(",", ":"))
    data = payload.encode()
    return f"{_b64(data)}.{_b64(_check(bound_to, data))}"


def _refuse(why: str) -> InvalidQuery:
    return InvalidQuery(f"bad page token: {why}; pass the `next` of a page of this same query")


def decode_token(token: Any, bound_to: bytes, orders: Sequence[Order]) -> tuple[Any, ...]:
    """The position a token holds, validated for this query.

    Raises:
        InvalidQuery: the token is not a string this library made, was altered, belongs to
            another query, or holds a value that is not a valid sort value.
    """
    if not isinstance(token, str):
        raise _refuse(f"expected a string, got {short(token)}")
    if len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise _refuse("not a page token")
    body, check = token.split(".")
    try:
        data, mac = _unb64(body), _unb64(check)
        if not token.isascii():
            raise ValueError("not ASCII")
    except (binascii.Error, ValueError):
        raise _refuse("not a page token") from None
    if mac != _check(bound_to, data):
        raise _refuse("altered, or made for another query (table, filter, scope or order)")
    try:
        version, raw = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError, TypeError):  # checked above, so only ours
        raise _refuse("not a page token") from None
    if version != _VERSION or not isinstance(raw, list) or len(raw) != len(orders):
        raise _refuse("made by another version, or for another order")
    return tuple(_token_value(o.field, v) for o, v in zip(orders, raw, strict=True))


def _token_value(spec: FieldSpec, value: Any) -> Any:
    where = f"page token value for {spec.name!r}"
    if value is None:
        if not spec.nullable:
            raise _refuse(f"{spec.name!r} is never null")
        return None
    wanted: dict[str, type | tuple[type, ...]] = {
        "text": str,
        "int": int,
        "float": (int, float),
        "bool": bool,
        "datetime": str,
    }
    kind = wanted.get(spec.kind)
    if (
        kind is None
        or not isinstance(value, kind)
        or (spec.kind != "bool" and isinstance(value, bool))
    ):
        raise _refuse(f"{where}: {short(value)} is not a {spec.kind}")
    if spec.kind == "datetime":
        try:
            value = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise _refuse(f"{where}: {short(value)} is not a datetime") from None
    return _storage(spec, value, where)
