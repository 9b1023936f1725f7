"""Hypothesis strategies for the answers an OpenAPI description documents.

hypothesis-jsonschema would be the tool, but its last release (0.23.1) no longer runs on
current Hypothesis (``'many' object has no attribute 'more'``), so this is the small subset
the Jira and ClickUp descriptions use: ``type`` (also lists), ``properties``/``required``/
``additionalProperties``, ``items``, ``enum``/``const``, ``allOf``/``anyOf``/``oneOf`` and
``$ref`` (followed a few levels deep, then any JSON). Optional properties are sometimes left
out; strings are short and arbitrary (a documented string may hold anything: ``"due_date":
"tomorrow"``). ``hostile`` also replaces, now and then, a value by JSON of another type: a
malformed answer the description does not allow, which must still end in a typed error.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["answers"]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
TEXT = st.text(max_size=12) | st.sampled_from(
    ["", "1", "-1", "1700000000000", "2024-01-31T10:00:00.000+0000", "x", "null", "2024-13-99"]
)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.lstrip("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~").replace("%7B", "{").replace("%7D", "}")
        node = node[part]
    return node


def answers(
    document: dict[str, Any], schema: dict[str, Any], *, hostile: bool = False, depth: int = 6
) -> st.SearchStrategy[Any]:
    """Values ``schema`` (a node of ``document``) allows; ``hostile`` adds wrong types."""
    strategy = _strategy(document, schema, depth, hostile)
    return strategy


def _strategy(
    document: dict[str, Any], schema: Any, depth: int, hostile: bool
) -> st.SearchStrategy[Any]:
    if not isinstance(schema, dict) or depth <= 0:
        return JSON
    if "$ref" in schema:
        return st.deferred(
            lambda: _strategy(document, _resolve(document, schema["$ref"]), depth - 1, hostile)
        )
    base = _plain(document, schema, depth, hostile)
    if hostile:
        return st.one_of(base, base, base, JSON)
    return base


def _plain(
    document: dict[str, Any], schema: dict[str, Any], depth: int, hostile: bool
) -> st.SearchStrategy[Any]:
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([_strategy(document, s, depth - 1, hostile) for s in schema[key]])
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(document, part["$ref"]) if "$ref" in part else part
            for key, value in part.items():
                if key == "properties":
                    merged.setdefault("properties", {}).update(value)
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return _strategy(document, merged, depth, hostile)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_plain(document, {**schema, "type": k}, depth, hostile) for k in kind])
    if kind == "object" or "properties" in schema:
        return _object(document, schema, depth, hostile)
    if kind == "array":
        return st.lists(
            _strategy(document, schema.get("items", {}), depth - 1, hostile), max_size=3
        )
    if kind == "string":
        return TEXT
    if kind == "integer":
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JSON


def _object(
    document: dict[str, Any], schema: dict[str, Any], depth: int, hostile: bool
) -> st.SearchStrategy[Any]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    fixed = {
        name: _strategy(document, sub, depth - 1, hostile)
        for name, sub in properties.items()
        if name in required
    }
    optional = {
        name: _strategy(document, sub, depth - 1, hostile)
        for name, sub in properties.items()
        if name not in required
    }
    objects = st.fixed_dictionaries(fixed, optional=optional)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and not properties:
        values = _strategy(document, extra, depth - 1, hostile)
        return st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=4)
    return objects
