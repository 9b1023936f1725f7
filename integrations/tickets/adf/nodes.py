"""ADF documents as plain dicts: their well-formedness check and the normal form they are
compared in (so a document and its Markdown round trip compare equal)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from integrations.errors import InvalidRequest
from integrations.tickets.adf.schema import sort_marks

__all__ = [
    "AdfError",
    "Node",
    "check_document",
    "merge_texts",
    "normalize",
    "normalize_mark",
    "strip_local_ids",
    "walk",
]

Node = dict[str, Any]


class AdfError(InvalidRequest):
    """A value that is not a well-formed ADF document; the message names the path."""


#: attributes equal to what an absent one means
_DEFAULT_ATTRS: dict[str, dict[str, Any]] = {
    "orderedList": {"order": 1},
    "hardBreak": {"text": "\n"},
}


def check_document(doc: Any, where: str = "document") -> Node:
    """``doc`` if it is a structurally sound ADF document, else `AdfError`.

    Sound means: every node is an object with a string ``type``; ``content`` is a list of
    nodes, ``attrs`` an object, ``marks`` a list of objects with a string ``type``; text
    nodes have a string ``text``. Unknown node types are fine (they are carried as-is).
    """
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        raise AdfError(f"{where}: not an ADF document (expected an object with type 'doc')")
    _check(doc, where)
    return doc


def _check(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        raise AdfError(f"{path}: expected a node object, got {type(node).__name__}")
    if not isinstance(node.get("type"), str):
        raise AdfError(f"{path}.type: expected a string")
    if "attrs" in node and not isinstance(node["attrs"], dict | None):
        raise AdfError(f"{path}.attrs: expected an object")
    if node["type"] == "text" and not isinstance(node.get("text"), str):
        raise AdfError(f"{path}.text: expected a string")
    marks = node.get("marks")
    if marks is not None:
        if not isinstance(marks, list):
            raise AdfError(f"{path}.marks: expected a list")
        for n, mark in enumerate(marks):
            if not isinstance(mark, dict) or not isinstance(mark.get("type"), str):
                raise AdfError(f"{path}.marks[{n}]: expected a mark object with a type")
            if "attrs" in mark and not isinstance(mark["attrs"], dict | None):
                raise AdfError(f"{path}.marks[{n}].attrs: expected an object")
    content = node.get("content")
    if content is not None:
        if not isinstance(content, list):
            raise AdfError(f"{path}.content: expected a list")
        for n, child in enumerate(content):
            _check(child, f"{path}.content[{n}]")


def normalize(node: Node) -> Node:
    """A copy in normal form: no empty ``attrs``/``marks``/``content`` (but the doc's),
    no ``None`` or default attributes, marks in canonical order, adjacent texts with the
    same marks merged, empty texts dropped. Equal normal forms mean the same document."""
    out: Node = {"type": node["type"]}
    for key, value in node.items():
        if key in ("type", "attrs", "marks", "content"):
            continue
        out[key] = copy.deepcopy(value)
    attrs = {k: v for k, v in (node.get("attrs") or {}).items() if v is not None}
    for name, default in _DEFAULT_ATTRS.get(node["type"], {}).items():
        if attrs.get(name) == default:
            del attrs[name]
    if attrs:
        out["attrs"] = copy.deepcopy(attrs)
    marks = node.get("marks") or []
    if marks:
        out["marks"] = sort_marks([normalize_mark(m) for m in marks])
    if "content" in node or node["type"] == "doc":
        children = [normalize(c) for c in node.get("content") or []]
        children = merge_texts(children)
        if children or node["type"] == "doc":
            out["content"] = children
    return out


def normalize_mark(mark: Node) -> Node:
    """A mark without empty or ``None`` attributes."""
    out: Node = {"type": mark["type"]}
    attrs = {k: v for k, v in (mark.get("attrs") or {}).items() if v is not None}
    if attrs:
        out["attrs"] = copy.deepcopy(attrs)
    return out


def merge_texts(nodes: list[Node]) -> list[Node]:
    """Adjacent text nodes with equal marks merged; empty texts dropped."""
    merged: list[Node] = []
    for node in nodes:
        if node.get("type") == "text" and not node.get("text"):
            continue
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.get("type") == node.get("type") == "text"
            and prev.get("marks") == node.get("marks")
            and set(prev) == set(node)
        ):
            merged[-1] = {**prev, "text": prev["text"] + node["text"]}
        else:
            merged.append(node)
    return merged


def strip_local_ids(node: Node) -> Node:
    """A copy without ``localId`` attributes (editor bookkeeping, not content)."""
    out = dict(node)
    if isinstance(node.get("attrs"), dict) and "localId" in node["attrs"]:
        attrs = {k: v for k, v in node["attrs"].items() if k != "localId"}
        if attrs:
            out["attrs"] = attrs
        else:
            out.pop("attrs")
    if isinstance(node.get("content"), list):
        out["content"] = [strip_local_ids(c) for c in node["content"]]
    return out


def walk(node: Node, path: str = "") -> Iterator[tuple[str, Node]]:
    """Every node with its path (``content[0].content[2]``), depth first."""
    yield path, node
    for n, child in enumerate(node.get("content") or []):
        yield from walk(child, f"{path}.content[{n}]" if path else f"content[{n}]")
