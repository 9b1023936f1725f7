"""The lookup language shared by every backend.

``where`` maps ``field__op`` to a value; ops are none (eq), ``ne`` (null matches, like
``IS DISTINCT FROM``), ``lt lte gt gte`` (null never matches), ``in`` (a list; a list
value without an op means ``in``), ``isnull`` (bool) and ``contains`` (PostgreSQL ``@>``
on JSON fields). ``order_by`` names fields, ``-`` for descending, nulls last, ties broken
by ``id``. Text compares by Unicode code point.

Parsing validates names, ops and values once (`InvalidQuery` otherwise) into
`Condition`s that the SQL backend compiles and the JSON backend evaluates with
`matches()`/`sort_rows()` below, so both apply the very same rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from models.schema import FieldSpec, ModelInfo
from repositories.errors import InvalidQuery
from repositories.values import (
    MAX_INDEXED_TEXT_BYTES,
    MAX_JSON_DEPTH,
    check_finite,
    check_storable,
    check_text,
    short,
)

__all__ = [
    "MAX_INDEXED_TEXT_BYTES",
    "OPS",
    "Condition",
    "Order",
    "Query",
    "check_storable",
    "jsonb_contains",
    "matches",
    "parse_order",
    "parse_where",
    "sort_rows",
    "storage_value",
    "utc_iso",
]

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "isnull", "contains", "after"]
#: the ops of a where; ``after`` (a `repositories.keyset.Keyset`) only comes from `page()`
OPS: tuple[Op, ...] = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "isnull", "contains")
_RANGE_OPS = ("lt", "lte", "gt", "gte")
_JSON_OPS = ("isnull", "contains")


@dataclass(frozen=True, slots=True)
class Condition:
    """One validated ``field__op=value`` term; a where clause is their conjunction."""

    field: FieldSpec
    op: Op
    value: Any  # storage_value() form; tuple for `in`, bool for isnull, Keyset for after


@dataclass(frozen=True, slots=True)
class Order:
    field: FieldSpec
    descending: bool


@dataclass(frozen=True, slots=True)
class Query:
    """One validated read: what the shared core hands a backend's select primitives.

    `conditions` are ANDed (the caller's filter and the access scope alike); `orders`
    always end with the `id` tiebreak when they come from `parse_order`; `limit` None
    means every row. Backends read the fields, never re-validate them.
    """

    conditions: tuple[Condition, ...] = ()
    orders: tuple[Order, ...] = ()
    limit: int | None = None
    offset: int = 0


def _split(key: str) -> tuple[str, Op]:
    name, sep, op = key.rpartition("__")
    if sep and op in OPS:
        return name, op  # type: ignore[return-value,unused-ignore]
    if sep and name and op and not op.startswith("_"):
        # `age__between`: an op-shaped suffix that is not an op
        raise InvalidQuery(f"unknown lookup op {op!r} in {key!r}; ops are {', '.join(OPS)}")
    return key, "eq"


def storage_value(spec: FieldSpec, value: Any, where: str) -> Any:
    """Validate one non-null value for a field and return its comparable storage form.

    Text → str, int → int, float → float, bool → bool, datetime → aware UTC datetime.
    """
    try:
        validated = spec.adapter.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]["msg"] if exc.errors() else str(exc)
        raise InvalidQuery(
            f"{where}: bad value {short(value)} for field {spec.name!r}: {first}"
        ) from exc
    if spec.kind == "text":
        text = validated.value if hasattr(validated, "value") else validated
        text = str(text)
        check_text(text, where)
        return text
    if spec.kind == "int":
        check_storable(spec, validated, where)
    if spec.kind == "float":
        number = float(validated)
        check_finite(number, where)
        return number
    if spec.kind == "datetime":
        moment: dt.datetime = validated
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    return validated


def _json_value(value: Any, where: str, depth: int = 1) -> Any:
    """A JSON document as PostgreSQL would store it (the rules of `check_json`)."""
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str):
            check_text(value, where)
        return value
    if isinstance(value, float):
        check_finite(value, where)
        return value
    if depth > MAX_JSON_DEPTH and isinstance(value, Mapping | list | tuple):
        raise InvalidQuery(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidQuery(f"{where}: JSON object keys must be strings, not {short(key)}")
            check_text(key, where)
            out[key] = _json_value(item, where, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json_value(item, where, depth + 1) for item in value]
    raise InvalidQuery(f"{where}: {type(value).__name__} is not a JSON value")


def parse_where(info: ModelInfo, where: Mapping[str, Any] | None) -> list[Condition]:
    """Validate a where mapping into conditions (`InvalidQuery` on anything unknown)."""
    if where is None:
        return []
    if not isinstance(where, Mapping):
        raise InvalidQuery(f"where must be a mapping of field__op to value, not {where!r}")
    conditions: list[Condition] = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise InvalidQuery(f"where keys must be strings, not {key!r}")
        name, op = _split(key)
        spec = info.resolve(name)
        if spec is None:
            raise InvalidQuery(f"{info.table}: unknown field {name!r} in filter {key!r}")
        if op == "eq" and isinstance(value, list | tuple | set | frozenset):
            op = "in"
        conditions.append(_condition(info, spec, op, value, key))
    return conditions


def _condition(info: ModelInfo, spec: FieldSpec, op: Op, value: Any, key: str) -> Condition:
    where = f"{info.table}.{key}"
    if spec.kind == "json" and op not in _JSON_OPS:
        raise InvalidQuery(f"{where}: JSON field {spec.name!r} supports only isnull and contains")
    if op == "isnull":
        if not isinstance(value, bool):
            raise InvalidQuery(f"{where}: isnull takes True or False, not {short(value)}")
        return Condition(spec, "isnull", value)
    if op == "contains":
        if spec.kind != "json":
            raise InvalidQuery(f"{where}: contains applies to JSON fields only")
        if value is None:
            raise InvalidQuery(f"{where}: contains needs a JSON value, not None")
        return Condition(spec, "contains", _json_value(value, where))
    if op == "in":
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise InvalidQuery(f"{where}: in takes a list of values, not {short(value)}")
        items = tuple(None if v is None else storage_value(spec, v, where) for v in value)
        return Condition(spec, "in", items)
    if value is None:
        if op == "eq":
            return Condition(spec, "isnull", True)
        if op == "ne":
            return Condition(spec, "isnull", False)
        raise InvalidQuery(f"{where}: {op} cannot compare with None")
    if op in _RANGE_OPS and spec.kind == "bool":
        raise InvalidQuery(f"{where}: {op} does not apply to a boolean field")
    return Condition(spec, op, storage_value(spec, value, where))


def parse_order(info: ModelInfo, order_by: Sequence[str] | str | None) -> list[Order]:
    """Validate order_by names; an `id` tiebreak is always appended (ascending)."""
    if order_by is None:
        order_by = []
    elif isinstance(order_by, str):
        order_by = [order_by]
    elif not isinstance(order_by, list | tuple):
        raise InvalidQuery(
            f"order_by takes a field name or a list of field names, not {short(order_by)}"
        )
    orders: list[Order] = []
    for item in order_by:
        if not isinstance(item, str) or not item.lstrip("-"):
            raise InvalidQuery(f"order_by takes field names, not {short(item)}")
        descending = item.startswith("-")
        spec = info.resolve(item[1:] if descending else item)
        if spec is None:
            raise InvalidQuery(f"{info.table}: cannot order by unknown field {item!r}")
        if spec.kind == "json":
            raise InvalidQuery(f"{info.table}: cannot order by JSON field {spec.name!r}")
        orders.append(Order(spec, descending))
        if spec.name == "id":
            return orders
    orders.append(Order(info.by_name["id"], False))
    return orders


# --- evaluation in Python (JSON backend), identical to the SQL compilation ------------


def _scalar_equal(a: Any, b: Any) -> bool:
    """jsonb scalar equality: bools are not numbers, numbers compare numerically."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _deep_contains(left: Any, right: Any) -> bool:
    if isinstance(right, dict):
        if not isinstance(left, dict):
            return False
        for key, value in right.items():
            if key not in left:
                return False
            held = left[key]
            if isinstance(value, dict | list):
                if type(held) is not type(value) or not _deep_contains(held, value):
                    return False
            elif isinstance(held, dict | list) or not _scalar_equal(held, value):
                return False
        return True
    if isinstance(right, list):
        if not isinstance(left, list):
            return False
        for value in right:
            if isinstance(value, dict | list):
                kind = type(value)
                if not any(isinstance(h, kind) and _deep_contains(h, value) for h in left):
                    return False
            elif not any(not isinstance(h, dict | list) and _scalar_equal(h, value) for h in left):
                return False
        return True
    return not isinstance(left, dict | list) and _scalar_equal(left, right)


def jsonb_contains(left: Any, right: Any) -> bool:
    """PostgreSQL's ``left @> right`` on JSON documents.

    Objects contain objects key by key (recursively); arrays contain arrays when every
    right element is contained in some left element (order and duplicates do not
    matter); bools are not numbers; and, only at the top level, an array contains a
    scalar that is one of its elements. A scalar never contains an array.
    """
    if isinstance(left, dict) != isinstance(right, dict):
        return False
    if isinstance(left, list) and not isinstance(right, dict | list):
        return any(not isinstance(h, dict | list) and _scalar_equal(h, right) for h in left)
    return _deep_contains(left, right)


def _compare(op: Op, held: Any, value: Any) -> bool:
    if op == "eq":
        return held is not None and held == value
    if op == "ne":
        return held is None or held != value
    if held is None:
        return False
    if op == "lt":
        return bool(held < value)
    if op == "lte":
        return bool(held <= value)
    if op == "gt":
        return bool(held > value)
    return bool(held >= value)


def _evaluator(cond: Condition, read: Callable[[Mapping[str, Any]], Any]) -> Callable[..., bool]:
    op, value = cond.op, cond.value
    if op == "after":
        return value.predicate()  # type: ignore[no-any-return]
    if op == "isnull":
        return (lambda row: read(row) is None) if value else (lambda row: read(row) is not None)
    if op == "contains":
        return lambda row: (held := read(row)) is not None and jsonb_contains(held, value)
    if op == "in":
        members = frozenset(v for v in value if v is not None)
        with_null = None in value
        return lambda row: (
            ((held := read(row)) is None and with_null) or (held is not None and held in members)
        )
    return lambda row: _compare(op, read(row), value)


def comparable(spec: FieldSpec, stored: Any) -> Any:
    """The stored (JSON) form of a value turned into what conditions compare against."""
    if stored is None or spec.kind != "datetime":
        return stored
    moment = stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(stored)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def utc_iso(spec: FieldSpec, stored: Any) -> Any:
    """A datetime field's stored form: ISO 8601 in UTC (naive input is taken as UTC), so
    every backend keeps the same instant and text order equals time order."""
    if stored is None or spec.kind != "datetime":
        return stored
    return comparable(spec, stored).isoformat()


def _reader(spec: FieldSpec) -> Callable[[Mapping[str, Any]], Any]:
    key = spec.storage
    if spec.kind == "datetime":
        return lambda row: comparable(spec, row.get(key))
    return lambda row: row.get(key)


def matches(conditions: Sequence[Condition]) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over storage rows (keyed by storage names) for these conditions."""
    checks = []
    for cond in conditions:
        checks.append(_evaluator(cond, _reader(cond.field)))
    if not checks:
        return lambda row: True
    if len(checks) == 1:
        return checks[0]
    return lambda row: all(check(row) for check in checks)


def sort_rows(rows: list[dict[str, Any]], orders: Sequence[Order]) -> list[dict[str, Any]]:
    """Sort storage rows as the SQL backends do: nulls last either way, then by id."""
    result = rows
    for order in reversed(orders):
        spec = order.field
        key = spec.storage
        present = [r for r in result if r.get(key) is not None]
        absent = [r for r in result if r.get(key) is None]
        if spec.kind == "datetime":
            present.sort(key=lambda r: comparable(spec, r[key]), reverse=order.descending)
        else:
            present.sort(key=lambda r: r[key], reverse=order.descending)
        result = present + absent
    return result
