"""ClickUp custom-field values: matching a field by id or name, and the wire shape per type.

Wire shapes follow ``POST /v2/task/{task_id}/field/{field_id}`` in ClickUp's v2 OpenAPI
description: dropdowns by option id (read back as the option's ``orderindex``), labels as a
list of option ids, people/tasks as ``{"add": [...], "rem": [...]}``, dates in Unix ms.
Bad values raise :class:`~integrations.errors.InvalidRequest` naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.tickets.base import same_value
from integrations.tickets.errors import InvalidRequest

__all__ = ["UNCHANGED", "custom_value", "match_field", "to_ms"]


def to_ms(value: Any) -> int | None:
    """Unix milliseconds from a number, numeric string or datetime (None stays None)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(float(value))


#: returned by :func:`custom_value` when the remote value already matches
UNCHANGED: Any = object()


def match_field(ref: str, defs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The custom field with id ``ref``, else the one named ``ref`` (any case)."""
    if ref in defs:
        return defs[ref]
    folded = ref.casefold()
    return next((f for f in defs.values() if str(f.get("name", "")).casefold() == folded), None)


def _option_id(field: dict[str, Any], ref: Any) -> str:
    options = (field.get("type_config") or {}).get("options") or []
    for option in options:
        if ref == option.get("id") or (isinstance(ref, int) and ref == option.get("orderindex")):
            return str(option["id"])
    for option in options:
        label = option.get("name") or option.get("label") or ""
        if isinstance(ref, str) and label.casefold() == ref.casefold():
            return str(option["id"])
    names = ", ".join(str(o.get("name") or o.get("label")) for o in options)
    raise InvalidRequest(f"{ref!r} is not an option of {field['name']!r} (options: {names})")


def custom_value(field: dict[str, Any], value: Any, old: Any) -> Any:
    """The wire value for ``POST /task/{id}/field/{field_id}``, or UNCHANGED."""
    kind = field["type"]
    if kind == "drop_down":
        wire: Any = _option_id(field, value)
        old_id = _option_id(field, old) if old not in (None, "") else None
        return UNCHANGED if old_id == wire else wire
    if kind == "labels":
        refs = value if isinstance(value, list) else [value]
        wire = sorted({_option_id(field, r) for r in refs})
        old_ids = sorted({str(o["id"] if isinstance(o, dict) else o) for o in old or []})
        return UNCHANGED if old_ids == wire else wire
    if kind in ("users", "tasks"):
        have = {str(o["id"] if isinstance(o, dict) else o) for o in old or []}
        want = {str(v) for v in value or []}
        if have == want:
            return UNCHANGED
        cast = int if kind == "users" else str
        return {
            "add": sorted(cast(v) for v in want - have),
            "rem": sorted(cast(v) for v in have - want),
        }
    if kind == "checkbox":
        wire = bool(value) if not isinstance(value, str) else value.lower() == "true"
        old_b = bool(old) if not isinstance(old, str) else old.lower() == "true"
        return UNCHANGED if wire == old_b else wire
    if kind == "date":
        wire = to_ms(value)
        return UNCHANGED if to_ms(old) == wire else wire
    if kind in ("number", "currency", "emoji"):
        if value in (None, ""):
            raise InvalidRequest(f"{field['name']!r}: an empty number cannot be set")
        return UNCHANGED if same_value(old, value) else value
    if value is None or value == "":
        raise InvalidRequest(f"{field['name']!r}: empty values cannot be set")
    return UNCHANGED if same_value(old, value) else value
