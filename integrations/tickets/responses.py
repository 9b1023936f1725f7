"""Reading decoded JSON responses with errors that name the field.

Every value a connector takes from a response goes through these helpers: a value of the
wrong type is an `UnexpectedResponse` naming where it
was (``issues[3].fields.updated``), never a ``KeyError``/``TypeError``/``ValueError``. What
the API description marks optional may be missing; helpers return None then.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx

from integrations.tickets.errors import UnexpectedResponse

__all__ = [
    "as_dict",
    "as_list",
    "json_body",
    "opt_bool",
    "opt_int",
    "opt_ms",
    "opt_str",
    "opt_time",
    "req_id",
]


def _problem(path: str, expected: str, value: Any) -> UnexpectedResponse:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return UnexpectedResponse(f"{path}: expected {expected}, got {shown}", field=path)


def json_body(response: httpx.Response, what: str) -> Any:
    """The decoded body, or UnexpectedResponse when it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise UnexpectedResponse(f"{what}: the response is not JSON", field="(body)") from exc


def as_dict(value: Any, path: str) -> dict[str, Any]:
    """``value`` if it is an object (None counts as an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _problem(path, "an object", value)
    return value


def as_list(value: Any, path: str) -> list[Any]:
    """``value`` if it is a list (None counts as an empty one)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _problem(path, "a list", value)
    return value


def opt_str(value: Any, path: str) -> str | None:
    """A string (numbers are ids written as numbers: kept as their text), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _problem(path, "a string", value)
    return str(value)


def req_id(value: Any, path: str) -> str:
    """A non-empty id."""
    text = opt_str(value, path)
    if not text:
        raise _problem(path, "an id", value)
    return text


def opt_int(value: Any, path: str) -> int | None:
    """An integer, also from its decimal text (``"3"``), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _problem(path, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _problem(path, "an integer", value)


def opt_bool(value: Any, path: str) -> bool | None:
    """A boolean, or None."""
    if value is None or isinstance(value, bool):
        return value
    raise _problem(path, "true or false", value)


def opt_ms(value: Any, path: str) -> int | None:
    """Unix milliseconds (ClickUp writes them as text), or None."""
    number = opt_int(value, path)
    if number is not None and not -(10**15) < number < 10**15:
        raise _problem(path, "Unix milliseconds", value)
    return number


def opt_time(value: Any, path: str) -> datetime | None:
    """An ISO 8601 instant (Jira's ``2024-01-31T10:00:00.000+0000`` too), aware, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _problem(path, "a date-time", value)
    fixed = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value.strip().replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(fixed)
    except ValueError:
        raise _problem(path, "a date-time", value) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
