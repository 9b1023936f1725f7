"""ADF inline nodes -> Markdown, checked by parsing it back.

First plain Markdown: ``*em*``, ``**strong**``, ``~~strike~~``, code spans, ``[links](<…>)``,
``<u>``/``<sub>``/``<sup>``, hard breaks as a backslash at the line end. If that does not
parse back to the same nodes (CommonMark's flanking rules refuse some emphasis, e.g. around
spaces), every mark becomes an ``<adf-mark>`` span, which parses back whatever its content.
Inline nodes Markdown has no syntax for (mentions, emoji, dates…) are ``<adf-node>`` tags
with a display text. Text is escaped so that it reads back literally, autolinks included.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from integrations.tickets.adf.envelope import mark_tags, node_tags
from integrations.tickets.adf.nodes import Node
from integrations.tickets.adf.parse import markdown_parser, parse_blocks

__all__ = ["write_inline"]

_ALWAYS_CHARS = frozenset("\\`*[]<~|&")
_LINE_START = re.compile(r"^([#>+=\-]|\d{1,9}(?=[.)]))")
_NATIVE_DELIMS = {"em": "*", "strong": "**", "strike": "~~"}
_HTML_MARKS = {"underline": "u"}


def write_inline(
    nodes: list[Node], *, one_line: bool = False, heading: bool = False, safe: bool = False
) -> str | None:
    """Inline Markdown for ``nodes``, checked by parsing it back; None when impossible."""
    modes = (True,) if safe else (False, True)
    for safe_mode in modes:
        text = _write_inline(nodes, safe_mode, one_line, heading)
        if text is not None and _inline_back(text, heading) == nodes:
            return text
    return None


def _inline_back(text: str, heading: bool) -> list[Node]:
    source = f"# {text}" if heading else f"<!--adf:paragraph-->\n{text}\n<!--/adf:paragraph-->"
    blocks = parse_blocks(source, "doc")
    if len(blocks) != 1:
        return [{"type": "invalid"}]
    return list(blocks[0].get("content") or [])


def _write_inline(nodes: list[Node], safe: bool, one_line: bool, heading: bool) -> str | None:
    out: list[str] = []
    open_marks: list[Node] = []
    closers: list[str] = []
    line_start = True

    def close_to(depth: int) -> None:
        while len(open_marks) > depth:
            open_marks.pop()
            out.append(closers.pop())

    for n, node in enumerate(nodes):
        kind = node.get("type")
        last = n == len(nodes) - 1
        if kind == "text":
            all_marks = node.get("marks") or []
            marks = all_marks if safe else [m for m in all_marks if m.get("type") != "code"]
            code = len(marks) != len(all_marks)
            depth = 0
            while depth < len(open_marks) and depth < len(marks):
                if open_marks[depth] != marks[depth]:
                    break
                depth += 1
            close_to(depth)
            for mark in marks[depth:]:
                opener, closer = _mark_syntax(mark, safe)
                if opener is None:
                    return None
                out.append(opener)
                open_marks.append(mark)
                closers.append(closer)
            text = node.get("text", "")
            line_end = last or nodes[n + 1].get("type") == "hardBreak"
            written = _code_span(text) if code else _escape(text, line_start, line_end, heading)
            if written is None:
                return None
            out.append(written)
            line_start = False
        elif kind == "hardBreak" and not one_line and n > 0 and not last and not node.get("attrs"):
            close_to(0)
            out.append("\\\n")
            line_start = True
        elif kind == "hardBreak" and one_line and not heading and not node.get("attrs"):
            close_to(0)
            out.append("<br>")
            line_start = False
        else:
            close_to(0)
            opener, closer = node_tags(node)
            out.append(opener + _escape(_display(node), False, False, heading) + closer)
            line_start = False
    close_to(0)
    return "".join(out)


def _mark_syntax(mark: Node, safe: bool) -> tuple[str | None, str]:
    kind = mark.get("type")
    if not safe:
        if kind in _NATIVE_DELIMS and not mark.get("attrs"):
            delim = _NATIVE_DELIMS[str(kind)]
            return delim, delim
        if kind in _HTML_MARKS and not mark.get("attrs"):
            tag = _HTML_MARKS[str(kind)]
            return f"<{tag}>", f"</{tag}>"
        if kind == "subsup" and (mark.get("attrs") or {}).get("type") in ("sub", "sup"):
            tag = mark["attrs"]["type"]
            return f"<{tag}>", f"</{tag}>"
        attrs = mark.get("attrs") or {}
        if (
            kind == "link"
            and set(attrs) <= {"href", "title"}
            and isinstance(attrs.get("href"), str)
        ):
            tail = _link_tail(attrs)
            if tail is not None:
                return "[", tail
    return mark_tags(mark)


def _link_tail(attrs: dict[str, Any]) -> str | None:
    href = re.sub(r"([\\<>&])", r"\\\1", str(attrs["href"]))
    if "\n" in href or "\r" in href:
        return None
    tail = f"](<{href}>"
    if "title" in attrs:
        tail += ' "' + re.sub(r'([\\"&])', r"\\\1", str(attrs["title"])) + '"'
    return tail + ")"


def _code_span(text: str) -> str | None:
    if "\n" in text or "\r" in text:
        return None
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = text.startswith(("`", " ")) or text.endswith(("`", " "))
    if padded and text.strip(" "):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def _display(node: Node) -> str:
    """What a person reading the Markdown sees of an inline node (not parsed back)."""
    attrs = node.get("attrs") or {}
    kind = node.get("type")
    for name in ("text", "shortName", "url", "timestamp", "alt", "extensionKey"):
        if isinstance(attrs.get(name), str) and (kind != "hardBreak"):
            return str(attrs[name])
    return "" if kind == "hardBreak" else str(kind)


@cache
def _autolink_breaks(text: str) -> frozenset[int]:
    """Positions to escape so that no autolink candidate in ``text`` is linked."""
    linkify = markdown_parser().linkify
    if linkify is None or not linkify.test(text):
        return frozenset()
    breaks = set()
    for match in linkify.match(text) or []:
        for pos in range(match.index + 1, match.last_index):
            if text[pos] in ":@.":
                breaks.add(pos)
                break
    return frozenset(breaks)


_ENTITIES = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _escape(text: str, line_start: bool, line_end: bool, heading: bool) -> str:
    """Text that CommonMark reads back literally."""
    breaks = _autolink_breaks(text)
    out = []
    for i, char in enumerate(text):
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _ALWAYS_CHARS or i in breaks or (heading and char == "#"):
            out.append("\\" + char)
        elif char == "_" and not (
            0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        ):
            out.append("\\_")
        else:
            out.append(char)
    escaped = "".join(out)
    if line_start:
        escaped = re.sub(r"^ ", "&#32;", escaped)
        escaped = _LINE_START.sub(lambda m: _line_start(m.group(1)), escaped)
    if line_end:
        escaped = re.sub(r" $", "&#32;", escaped)
    return escaped


def _line_start(marker: str) -> str:
    return marker + "\\" if marker[0].isdigit() else "\\" + marker
