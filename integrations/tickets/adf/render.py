"""ADF -> Markdown that parses back to the same document.

Every block is first written as plain Markdown (a decorator comment before it carries
what Markdown has no syntax for: ids, alignment, a table's widths...). The result is
parsed back; if that does not give the node again, the block is written as an envelope
(a container comment around Markdown children), and if even that does not, as one comment
holding the node's JSON. Inline content falls back the same way: Markdown emphasis first,
then ``<adf-mark>`` spans (immune to CommonMark's flanking rules), then the paragraph as
JSON. So ``markdown_to_adf(adf_to_markdown(doc))`` is ``doc`` (in normal form) for every
well-formed document, nodes Markdown cannot show included.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.tickets.adf.envelope import (
    close_comment,
    leaf_comment,
    open_comment,
    skeleton_comment,
)
from integrations.tickets.adf.nodes import Node, normalize
from integrations.tickets.adf.parse import parse_blocks
from integrations.tickets.adf.render_inline import write_inline
from integrations.tickets.adf.schema import ALLOWED, INLINE_CONTAINERS

__all__ = ["render_blocks", "render_document"]

_BULLETS = ("bulletList", "taskList")


def render_blocks(nodes: list[Node], parent: str) -> str:
    """Markdown for ``nodes`` (children of a ``parent`` container), each verified."""
    parts = [_block(node, parent, _alternate(nodes, n)) for n, node in enumerate(nodes)]
    for _ in range(len(nodes) + 1):
        text = "\n\n".join(parts)
        parsed = parse_blocks(text, parent)
        if parsed == nodes:
            return text
        bad = next(
            (n for n, node in enumerate(nodes) if n >= len(parsed) or parsed[n] != node),
            len(nodes) - 1,
        )
        # the block that went wrong, or the one before it bleeding into it
        candidates = [n for n in (bad, bad - 1) if n >= 0 and parts[n] != leaf_comment(nodes[n])]
        if not candidates:
            break
        parts[candidates[0]] = leaf_comment(nodes[candidates[0]])
    return "\n\n".join(parts)


def _alternate(nodes: list[Node], n: int) -> bool:
    """Whether list ``n`` must use the other marker, so it does not merge with the list
    before it (CommonMark starts a new list when the marker changes)."""
    alt = False
    for m in range(n - 1, -1, -1):
        same = (nodes[m]["type"] in _BULLETS and nodes[n]["type"] in _BULLETS) or (
            nodes[m]["type"] == nodes[n]["type"] == "orderedList"
        )
        if not same:
            break
        alt = not alt
    return alt


def _block(node: Node, parent: str, alt: bool) -> str:
    for attempt in (_native, _envelope):
        text = attempt(node, alt)
        if text is not None and parse_blocks(text, parent) == [node]:
            return text
    return leaf_comment(node)


# ------------------------------------------------------------------ native Markdown


def _native(node: Node, alt: bool) -> str | None:
    kind = node["type"]
    render = _NATIVE.get(kind)
    if render is None:
        return None
    body = render(node, alt)
    if body is None:
        return None
    skeleton = _skeleton(node)
    return f"{skeleton_comment(skeleton)}\n{body}" if skeleton else body


def _skeleton(node: Node) -> dict[str, Any] | None:
    """What the native Markdown of ``node`` does not show, shaped like the node."""
    kind = node["type"]
    attrs = dict(node.get("attrs") or {})
    for name in _NATIVE_ATTRS.get(kind, ()):
        attrs.pop(name, None)
    out: dict[str, Any] = {"type": kind}
    if attrs:
        out["attrs"] = attrs
    if node.get("marks"):
        out["marks"] = node["marks"]
    children = _SKELETON_CHILDREN.get(kind)
    if children is not None:
        content = node.get("content") or []
        subs = [_skeleton(c) if c["type"] in children else None for c in content]
        while subs and subs[-1] is None:
            subs.pop()
        if subs:
            out["content"] = subs
    return out if len(out) > 1 else None


def _paragraph(node: Node, alt: bool) -> str | None:
    content = node.get("content") or []
    if not content:
        return None
    return write_inline(content)


def _heading(node: Node, alt: bool) -> str | None:
    level = (node.get("attrs") or {}).get("level")
    if level not in (1, 2, 3, 4, 5, 6):
        return None
    text = write_inline(node.get("content") or [], one_line=True, heading=True)
    if text is None:
        return None
    return "#" * int(level) + (" " + text if text else "")


def _code_block(node: Node, alt: bool) -> str | None:
    text = "".join(c.get("text", "") for c in node.get("content") or [])
    language = (node.get("attrs") or {}).get("language") or ""
    if not re.fullmatch(r"[^\s`\\&]*", str(language)):
        return None
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}" if text else f"{fence}{language}\n{fence}"


def _rule(node: Node, alt: bool) -> str:
    return "---"


def _blockquote(node: Node, alt: bool) -> str | None:
    inner = render_blocks(node.get("content") or [], "blockquote")
    return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))


def _list(node: Node, alt: bool) -> str | None:
    ordered = node["type"] == "orderedList"
    order = (node.get("attrs") or {}).get("order", 1)
    if ordered and (not isinstance(order, int) or isinstance(order, bool) or order < 0):
        return None
    items = []
    for n, item in enumerate(node.get("content") or []):
        if item.get("type") != "listItem":
            return None
        marker = f"{order + n}{')' if alt else '.'} " if ordered else ("* " if alt else "- ")
        body = render_blocks(item.get("content") or [], "listItem")
        items.append(_indent(marker, body))
    return "\n".join(items)


def _task_list(node: Node, alt: bool) -> str | None:
    lines: list[str] = []
    bullet = "* " if alt else "- "
    for child in node.get("content") or []:
        if child.get("type") == "taskItem":
            state = (child.get("attrs") or {}).get("state")
            if state not in ("TODO", "DONE"):
                return None
            text = write_inline(child.get("content") or [])
            if text is None:
                return None
            box = "[x]" if state == "DONE" else "[ ]"
            lines.append(_indent(bullet, f"{box} {text}" if text else box))
        elif child.get("type") == "taskList" and lines:
            nested = _block(child, "taskList", False)
            pad = " " * len(bullet)
            lines[-1] += "\n\n" + "\n".join(pad + ln if ln else "" for ln in nested.split("\n"))
        else:
            return None
    return "\n".join(lines)


def _indent(marker: str, body: str) -> str:
    pad = " " * len(marker)
    lines = body.split("\n")
    return "\n".join(
        [marker + lines[0] if lines[0] else marker.rstrip()]
        + [pad + line if line else "" for line in lines[1:]]
    )


def _table(node: Node, alt: bool) -> str | None:
    rows = node.get("content") or []
    width = len(rows[0].get("content") or []) if rows else 0
    if not width:
        return None
    lines = []
    for r, row in enumerate(rows):
        cells = row.get("content") or []
        want = "tableHeader" if r == 0 else "tableCell"
        if row.get("type") != "tableRow" or len(cells) != width:
            return None
        texts = []
        for cell in cells:
            attrs = cell.get("attrs") or {}
            if cell.get("type") != want or attrs.get("colspan", 1) != 1:
                return None
            if attrs.get("rowspan", 1) != 1:
                return None
            content = cell.get("content") or []
            if len(content) != 1 or content[0].get("type") != "paragraph":
                return None
            text = write_inline(content[0].get("content") or [], one_line=True)
            if text is None:
                return None
            texts.append(text)
        lines.append("| " + " | ".join(texts) + " |")
        if r == 0:
            lines.append("|" + " --- |" * width)
    return "\n".join(lines)


_NATIVE = {
    "paragraph": _paragraph,
    "heading": _heading,
    "codeBlock": _code_block,
    "rule": _rule,
    "blockquote": _blockquote,
    "bulletList": _list,
    "orderedList": _list,
    "taskList": _task_list,
    "table": _table,
}
#: attributes the native Markdown of a node shows itself
_NATIVE_ATTRS = {
    "heading": ("level",),
    "codeBlock": ("language",),
    "orderedList": ("order",),
    "taskItem": ("state",),
}
#: children whose attributes a node's skeleton carries (the rest carry their own)
_SKELETON_CHILDREN: dict[str, frozenset[str]] = {
    "bulletList": frozenset({"listItem"}),
    "orderedList": frozenset({"listItem"}),
    "taskList": frozenset({"taskItem"}),
    "table": frozenset({"tableRow"}),
    "tableRow": frozenset({"tableCell", "tableHeader"}),
    "tableCell": frozenset({"paragraph"}),
    "tableHeader": frozenset({"paragraph"}),
}


# ------------------------------------------------------------------ envelopes


def _envelope(node: Node, alt: bool) -> str | None:
    """A container comment around Markdown children (or around inline content)."""
    kind = node["type"]
    data = {k: node[k] for k in ("attrs", "marks") if node.get(k)}
    if kind in INLINE_CONTAINERS:
        text = write_inline(node.get("content") or [], safe=True)
        if text is None:
            return None
        body = f"{text}\n" if text else ""
        return f"{open_comment(kind, data)}\n{body}{close_comment(kind)}"
    if kind not in ALLOWED or not isinstance(node.get("content"), list):
        return None
    inner = render_blocks(node["content"], kind)
    middle = f"\n\n{inner}\n\n" if inner else "\n\n"
    return f"{open_comment(kind, data)}{middle}{close_comment(kind)}"


def render_document(doc: Node) -> str:
    """Markdown for a whole (normalised) document."""
    return render_blocks(normalize(doc).get("content") or [], "doc")
