"""How Markdown carries what it has no syntax for: ADF JSON in HTML comments and tags.

Block level, each on a line of its own (an HTML block to CommonMark, invisible when the
Markdown is rendered, and left alone when a person edits the text around it)::

    <!--adf {"type":"mediaSingle",...}-->     a whole node (leaf)
    <!--adf:attrs {"attrs":{...},...}-->      what the next block has beyond its Markdown
    <!--adf:panel {"attrs":{...}}-->          a container whose children are Markdown...
    <!--/adf:panel-->                         ...up to here

Inline, as HTML tags (never at the start of a line on their own, so never an HTML block)::

    <adf-node data='{"type":"mention",...}'>@Ada</adf-node>   a node; the text is display only
    <adf-mark data='{"type":"textColor",...}'>text</adf-mark> a mark over Markdown text

JSON is written compact; ``--`` inside it is written ``-\\u002d`` so a comment never ends
early, and ``'``/``&`` in tag attributes are character references.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Directive",
    "close_comment",
    "dumps",
    "leaf_comment",
    "mark_tags",
    "node_tags",
    "open_comment",
    "parse_directive",
    "parse_tag",
    "skeleton_comment",
]

_DIRECTIVE = re.compile(r"^<!--adf(?::(?P<kind>[A-Za-z]+))?(?:\s+(?P<json>\{.*\}))?\s*-->$", re.S)
_CLOSE = re.compile(r"^<!--/adf:(?P<kind>[A-Za-z]+)\s*-->$")
_TAG = re.compile(r"^<(?P<name>adf-node|adf-mark)\s+data='(?P<data>[^']*)'\s*>$")


def dumps(value: Any) -> str:
    """Compact JSON that can sit inside an HTML comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("--", "-\\u002d")


@dataclass(frozen=True)
class Directive:
    """A parsed block comment: ``leaf`` (a node), ``attrs`` (for the next block),
    ``open``/``close`` (a container of ``node_type``)."""

    kind: str
    node_type: str = ""
    data: dict[str, Any] | None = None


def leaf_comment(node: dict[str, Any]) -> str:
    """A whole node as a block comment."""
    return f"<!--adf {dumps(node)}-->"


def skeleton_comment(skeleton: dict[str, Any]) -> str:
    """What the next block carries beyond its Markdown."""
    return f"<!--adf:attrs {dumps(skeleton)}-->"


def open_comment(node_type: str, data: dict[str, Any]) -> str:
    """The start of a container whose children follow as Markdown."""
    return f"<!--adf:{node_type} {dumps(data)}-->" if data else f"<!--adf:{node_type}-->"


def close_comment(node_type: str) -> str:
    """The end of a container."""
    return f"<!--/adf:{node_type}-->"


def parse_directive(text: str) -> Directive | None:
    """The directive an HTML block holds, or None when it is not one of ours (or its JSON
    is broken: then the block stays text, nothing is guessed)."""
    text = text.strip()
    if close := _CLOSE.match(text):
        return Directive("close", close.group("kind"))
    match = _DIRECTIVE.match(text)
    if match is None:
        return None
    data: dict[str, Any] | None = None
    if match.group("json") is not None:
        try:
            loaded = json.loads(match.group("json"))
        except ValueError:
            return None
        if not isinstance(loaded, dict):
            return None
        data = loaded
    kind = match.group("kind")
    if kind is None:
        if data is None or not isinstance(data.get("type"), str):
            return None
        return Directive("leaf", data["type"], data)
    if kind == "attrs":
        return Directive("attrs", "", data or {})
    return Directive("open", kind, data or {})


def _attr(value: Any) -> str:
    return html.escape(dumps(value), quote=False).replace("'", "&#39;")


def node_tags(node: dict[str, Any]) -> tuple[str, str]:
    """Opening and closing tag carrying an inline node."""
    return f"<adf-node data='{_attr(node)}'>", "</adf-node>"


def mark_tags(mark: dict[str, Any]) -> tuple[str, str]:
    """Opening and closing tag carrying a mark."""
    return f"<adf-mark data='{_attr(mark)}'>", "</adf-mark>"


def parse_tag(text: str) -> tuple[str, dict[str, Any]] | None:
    """``("adf-node" | "adf-mark", data)`` for one of our opening tags, else None."""
    match = _TAG.match(text.strip())
    if match is None:
        return None
    try:
        data = json.loads(html.unescape(match.group("data")))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    return match.group("name"), data
