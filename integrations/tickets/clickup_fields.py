"""ClickUp values: Unix-ms dates, custom fields matched by id or name, their wire shapes.

Wire shapes follow ``POST /v2/task/{task_id}/field/{field_id}`` in ClickUp's v2 OpenAPI
description: dropdowns by option id (read back as the option's ``orderindex``), labels as a
list of option ids, people/tasks as ``{"add": [...], "rem": [...]}``, dates in Unix ms. An
empty wanted value (None, ``""``, ``[]``) means *clear* (``DELETE .../field/{field_id}``).
Bad wanted values raise `InvalidRequest` naming the field; a
remote value we cannot read counts as different (so it is overwritten, never trusted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.tickets.base import same_value
from integrations.tickets.errors import InvalidRequest

__all__ = ["CLEAR", "UNCHANGED", "custom_value", "match_field", "to_ms"]

#: returned by `custom_value` when the remote value already matches
UNCHANGED: Any = object()
#: returned by `custom_value` when the field's value is to be removed
CLEAR: Any = object()
_EMPTY: tuple[Any, ...] = (None, "", [])


def to_ms(value: Any, what: str = "date") -> int | None:
    """Unix milliseconds from a number, numeric string or datetime (empty stays None).

    Raises:
        InvalidRequest: anything else, naming ``what``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, bool):
        raise InvalidRequest(f"{what}: {value!r} is not a date (Unix ms or a datetime)")
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise InvalidRequest(f"{what}: {value!r} is not a date (Unix ms or a datetime)") from None


def _remote_ms(value: Any) -> int | None:
    try:
        return to_ms(value)
    except InvalidRequest:
        return None


def match_field(ref: str, defs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The custom field with id ``ref``, else the one named ``ref`` (any case)."""
    if ref in defs:
        return defs[ref]
    folded = ref.casefold()
    return next((f for f in defs.values() if str(f.get("name", "")).casefold() == folded), None)


def field_options(field: dict[str, Any]) -> list[dict[str, Any]]:
    """The options of a custom field's ``type_config`` (whatever else a reply sends there
    reads as none)."""
    config = field.get("type_config")
    options = config.get("options") if isinstance(config, dict) else None
    return [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []


def _option_id(field: dict[str, Any], ref: Any) -> str:
    options = field_options(field)
    for option in options:
        if ref == option.get("id") or (
            isinstance(ref, int) and not isinstance(ref, bool) and ref == option.get("orderindex")
        ):
            return str(option["id"])
    for option in options:
        label = option.get("name") or option.get("label") or ""
        if isinstance(ref, str) and str(label).casefold() == ref.casefold():
            return str(option["id"])
    names = ", ".join(str(o.get("name") or o.get("label")) for o in options)
    raise InvalidRequest(f"{ref!r} is not an option of {field['name']!r} (options: {names})")


def _remote(read: Any) -> Any:
    """Apply ``read`` to a remote value; None when the value cannot be read."""
    try:
        return read()
    except (InvalidRequest, TypeError, KeyError, ValueError):
        return None


def _ids(values: Any) -> set[str]:
    if not isinstance(values, list):
        return set()
    return {str(v["id"] if isinstance(v, dict) and "id" in v else v) for v in values}


def custom_value(field: dict[str, Any], value: Any, old: Any) -> Any:
    """The wire value for ``POST /task/{id}/field/{field_id}``, UNCHANGED or CLEAR."""
    kind = field["type"]
    if value in _EMPTY:
        return UNCHANGED if old in _EMPTY else CLEAR
    if kind == "drop_down":
        wire: Any = _option_id(field, value)
        old_id = _remote(lambda: _option_id(field, old)) if old not in _EMPTY else None
        return UNCHANGED if old_id == wire else wire
    if kind == "labels":
        refs = value if isinstance(value, list) else [value]
        wire = sorted({_option_id(field, r) for r in refs})
        return UNCHANGED if sorted(_ids(old)) == wire else wire
    if kind in ("users", "tasks"):
        have = _ids(old)
        want = {str(v) for v in (value if isinstance(value, list) else [value])}
        if have == want:
            return UNCHANGED
        if kind == "users" and not all(v.lstrip("-").isdigit() for v in want):
            raise InvalidRequest(f"{field['name']!r}: user ids are numbers, got {sorted(want)}")
        cast = int if kind == "users" else str
        return {
            "add": sorted(cast(v) for v in want - have),
            "rem": sorted(cast(v) for v in have - want if kind == "tasks" or v.isdigit()),
        }
    if kind == "checkbox":
        wire = bool(value) if not isinstance(value, str) else value.lower() == "true"
        old_b = bool(old) if not isinstance(old, str) else old.lower() == "true"
        return UNCHANGED if wire == old_b else wire
    if kind == "date":
        wire = to_ms(value, repr(field["name"]))
        return UNCHANGED if _remote_ms(old) == wire else wire
    if kind in ("number", "currency", "emoji"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidRequest(f"{field['name']!r}: {value!r} is not a number")
        try:
            number = float(value)
        except ValueError:
            raise InvalidRequest(f"{field['name']!r}: {value!r} is not a number") from None
        return UNCHANGED if same_value(old, number) else value
    return UNCHANGED if same_value(old, value) else value
