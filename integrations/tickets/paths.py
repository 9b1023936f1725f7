"""Dotted paths into a ticket: ``fields.status.name``, ``assignees[0].id``,
``custom_fields[name=Budget].value`` (a selector matches exactly, then case-insensitively;
on write a missing item is appended as ``{name: Budget}``).

Errors: `MappingError` (an `InvalidRequest`, exit code 2) for a path
that cannot be parsed or written.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.errors import InvalidRequest

__all__ = ["MappingError", "Step", "get_path", "parse_path", "set_path"]

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^=\]]+)=([^\]]*)\]|(\.)")
Step = str | int | tuple[str, str]


class MappingError(InvalidRequest):
    """The ticket mapping is invalid (or a value does not fit one of its transforms)."""


def parse_path(path: str) -> list[Step]:
    """``a.b[0].c[name=X]`` -> ``["a", "b", 0, "c", ("name", "X")]``."""
    steps: list[Step] = []
    pos = 0
    for match in _TOKEN.finditer(path):
        if match.start() != pos:
            raise MappingError(f"cannot parse path {path!r} at {path[pos:]!r}")
        pos = match.end()
        key, index, sel_key, sel_value, dot = match.groups()
        if key is not None:
            steps.append(key)
        elif index is not None:
            steps.append(int(index))
        elif sel_key is not None:
            steps.append((sel_key.strip(), sel_value.strip()))
        elif dot is None:  # pragma: no cover - the regex has no other group
            raise MappingError(path)
    bad_dots = ".." in path or ".[" in path or path.startswith(".") or path.endswith(".")
    if pos != len(path) or not steps or bad_dots:
        raise MappingError(f"cannot parse path {path!r}")
    return steps


def _select(items: list[Any], key: str, value: str) -> Any:
    for exact in (True, False):
        for item in items:
            if isinstance(item, dict) and key in item:
                found = str(item[key])
                if found == value if exact else found.casefold() == value.casefold():
                    return item
    return None


def get_path(obj: Any, path: str) -> Any:
    """The value at ``path``, or None when any step is missing."""
    for step in parse_path(path):
        if isinstance(step, str):
            obj = obj.get(step) if isinstance(obj, dict) else None
        elif isinstance(step, int):
            obj = obj[step] if isinstance(obj, list) and -len(obj) <= step < len(obj) else None
        else:
            obj = _select(obj, *step) if isinstance(obj, list) else None
        if obj is None:
            return None
    return obj


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at ``path``, creating dicts, lists and selected items on the way."""
    steps = parse_path(path)
    node: Any = obj
    for step, nxt in zip(steps, [*steps[1:], None], strict=True):
        last = nxt is None
        fresh: Any = [] if isinstance(nxt, int | tuple) else {}
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise MappingError(f"path {path!r}: {step!r} is not inside an object")
            if last:
                node[step] = value
            else:
                if not isinstance(node.get(step), dict | list):
                    node[step] = fresh
                node = node[step]
        elif isinstance(step, int):
            if not isinstance(node, list):
                raise MappingError(f"path {path!r}: index {step} is not inside a list")
            while len(node) <= step:
                node.append(None)
            if last:
                node[step] = value
            else:
                if node[step] is None:
                    node[step] = fresh
                node = node[step]
        else:
            if not isinstance(node, list):
                raise MappingError(f"path {path!r}: selector {step} is not inside a list")
            item = _select(node, *step)
            if item is None:
                item = {step[0]: step[1]}
                node.append(item)
            if last:
                raise MappingError(f"path {path!r} cannot end with a selector")
            node = item
