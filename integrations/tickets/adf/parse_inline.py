"""Markdown inline tokens (markdown-it-py) -> ADF inline nodes.

Emphasis, strong, strikethrough, code and links become marks; ``<adf-mark>`` spans and
``<adf-node>`` tags (see `.envelope`) carry what Markdown has no syntax for;
``<br>``, ``<u>``, ``<sub>``, ``<sup>``, ``<s>``/``<del>``, ``<em>``/``<i>`` and
``<strong>``/``<b>`` are understood; any other HTML stays text. Marks are kept only in the
combinations ADF allows (``code`` with ``link``/``annotation`` only, one of each type).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from integrations.tickets.adf.envelope import parse_tag
from integrations.tickets.adf.nodes import Node, merge_texts
from integrations.tickets.adf.schema import allowed_marks

__all__ = ["inline_atom", "inline_content"]

_HTML_MARKS: dict[str, Node] = {
    "u": {"type": "underline"},
    "ins": {"type": "underline"},
    "sub": {"type": "subsup", "attrs": {"type": "sub"}},
    "sup": {"type": "subsup", "attrs": {"type": "sup"}},
    "s": {"type": "strike"},
    "del": {"type": "strike"},
    "strike": {"type": "strike"},
    "em": {"type": "em"},
    "i": {"type": "em"},
    "strong": {"type": "strong"},
    "b": {"type": "strong"},
}
_HTML_TAG = re.compile(r"^<(/?)([a-zA-Z]+)\s*(/?)>$")
#: nodes an inline envelope may carry, with the attributes they cannot do without
_INLINE_REQUIRED: dict[str, tuple[str, ...]] = {
    "hardBreak": (),
    "mention": ("id",),
    "emoji": ("shortName",),
    "date": ("timestamp",),
    "status": ("text", "color"),
    "inlineCard": (),
    "placeholder": ("text",),
    "mediaInline": ("id", "collection"),
    "inlineExtension": ("extensionKey", "extensionType"),
}


def inline_content(node: SyntaxTreeNode) -> list[Node]:
    token = node.token
    return _inline_tokens(token.children or []) if token is not None else []


def _inline_tokens(tokens: list[Token]) -> list[Node]:
    out: list[Node] = []
    marks: list[tuple[str, Node]] = []  # (opened by, mark)
    skip = 0
    for token in tokens:
        kind = token.type
        if skip:
            if kind == "html_inline":
                name = token.content.strip().lower()
                if name.startswith("<adf-node"):
                    skip += 1
                elif name == "</adf-node>":
                    skip -= 1
            continue
        if kind in ("text", "text_special"):
            _add_text(out, token.content, marks)
        elif kind == "softbreak":
            _add_text(out, " ", marks)
        elif kind == "hardbreak":
            out.append({"type": "hardBreak"})
        elif kind == "code_inline":
            _add_text(out, token.content, [*marks, ("code", {"type": "code"})])
        elif kind in ("em_open", "strong_open", "s_open"):
            marks.append((kind[:-5], {"type": {"s": "strike"}.get(kind[:-5], kind[:-5])}))
        elif kind in ("em_close", "strong_close", "s_close"):
            _pop(marks, kind[:-6])
        elif kind == "link_open":
            attrs: Node = {"href": str(token.attrs.get("href", ""))}
            if token.attrs.get("title"):
                attrs["title"] = str(token.attrs["title"])
            marks.append(("link", {"type": "link", "attrs": attrs}))
        elif kind == "link_close":
            _pop(marks, "link")
        elif kind == "image":  # ADF images are media, not inline: the alt text, linked
            link = {"type": "link", "attrs": {"href": str(token.attrs.get("src", ""))}}
            alt = "".join(c.content for c in token.children or [] if c.type != "image")
            _add_text(out, alt or str(token.attrs.get("src", "")), [*marks, ("link", link)])
        elif kind == "html_inline":
            skip = _html_inline(token.content, out, marks)
        else:
            _add_text(out, token.content, marks)
    return merge_texts(out)


def _pop(marks: list[tuple[str, Node]], opener: str) -> bool:
    for n in range(len(marks) - 1, -1, -1):
        if marks[n][0] == opener:
            del marks[n]
            return True
    return False


def _add_text(out: list[Node], text: str, marks: list[tuple[str, Node]]) -> None:
    if not text:
        return
    node: Node = {"type": "text", "text": text}
    kept = allowed_marks([copy.deepcopy(m) for _, m in marks])
    if kept:
        node["marks"] = kept
    out.append(node)


def _html_inline(html: str, out: list[Node], marks: list[tuple[str, Node]]) -> int:
    """Apply one inline HTML token; returns 1 when an ``adf-node`` display text follows."""
    tag = parse_tag(html)
    if tag is not None:
        name, data = tag
        if name == "adf-mark":
            marks.append(("adf-mark", data))
            return 0
        atoms = inline_atom(data, html)
        out.extend(atoms)
        return 1 if atoms and atoms[0] is not None and atoms[0].get("type") != "text" else 0
    text = html.strip().lower()
    if text == "</adf-mark>" and _pop(marks, "adf-mark"):
        return 0
    plain = _HTML_TAG.match(text)
    if plain is not None:
        closing, name, self_closing = plain.groups()
        if name == "br" and not closing:
            out.append({"type": "hardBreak"})
            return 0
        if name in _HTML_MARKS and not self_closing:
            if not closing:
                marks.append((name, _HTML_MARKS[name]))
                return 0
            if _pop(marks, name):
                return 0
    _add_text(out, html, marks)
    return 0


def inline_atom(data: Node, source: str) -> list[Node]:
    """An inline node carried in an envelope, or the envelope as text when the node is not
    one ADF knows inline (or lacks what it cannot do without)."""
    kind = data.get("type")
    required = _INLINE_REQUIRED.get(str(kind))
    attrs: dict[str, Any] = data["attrs"] if isinstance(data.get("attrs"), dict) else {}
    missing = required is None or any(name not in attrs for name in required)
    if missing or (kind == "inlineCard" and "url" not in attrs and "data" not in attrs):
        return [{"type": "text", "text": source}]
    return [copy.deepcopy(data)]
