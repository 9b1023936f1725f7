"""Atlassian Document Format (ADF) <-> Markdown.

Supported both ways: paragraphs, headings, bold/italic/code/strike, links, bullet and
ordered lists (nested), code blocks, block quotes, rules and hard breaks. Mentions, emoji and
inline cards become text (``@Name``, ``:smile:``, the URL); Markdown never produces them.
Unknown ADF nodes keep their text content rather than being dropped.

ADF reference: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["adf_to_markdown", "is_adf", "markdown_to_adf", "text_to_adf"]

Node = dict[str, Any]

_MARK_ORDER = ("code", "em", "strong", "strike", "link")  # innermost first
_ESCAPE = re.compile(r"([\\`*_\[\]~])")
_LINE_START_ESCAPE = re.compile(r"^(\s*)(#|>|[-+](?=\s)|\d+(?=[.)]\s))")


def is_adf(value: Any) -> bool:
    """Whether ``value`` is an ADF document."""
    return isinstance(value, dict) and value.get("type") == "doc"


def text_to_adf(text: str) -> Node:
    """Plain text as an ADF document, one paragraph per line (no Markdown parsing)."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        if line
        else {"type": "paragraph", "content": []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


# ---------------------------------------------------------------- ADF -> Markdown


def adf_to_markdown(doc: Node | None) -> str:
    """Render an ADF document (or None) as Markdown."""
    if doc is None:
        return ""
    if not isinstance(doc, dict):
        raise TypeError(f"not an ADF node: {type(doc).__name__}")
    return "\n\n".join(_blocks(doc.get("content") or [])).strip("\n")


def _blocks(nodes: list[Node]) -> list[str]:
    return [text for node in nodes if (text := _block(node)) is not None]


def _block(node: Node) -> str | None:
    kind = node.get("type")
    content = node.get("content") or []
    if kind == "paragraph":
        return _escape_line_starts(_inline(content))
    if kind == "heading":
        level = int((node.get("attrs") or {}).get("level", 1))
        return "#" * max(1, min(6, level)) + " " + _inline(content)
    if kind in ("bulletList", "orderedList"):
        return _list(node)
    if kind == "codeBlock":
        language = (node.get("attrs") or {}).get("language") or ""
        text = "".join(c.get("text", "") for c in content)
        return f"```{language}\n{text}\n```"
    if kind == "blockquote":
        inner = "\n\n".join(_blocks(content))
        return "\n".join("> " + line if line else ">" for line in inner.split("\n"))
    if kind == "rule":
        return "---"
    if kind in ("mediaSingle", "mediaGroup", "media"):
        return None
    # panels, tables, expand...: keep the text, one block per child
    if content and all(c.get("type") in _INLINE_TYPES for c in content):
        return _inline(content)
    return "\n\n".join(_blocks(content)) or None


def _list(node: Node) -> str:
    ordered = node["type"] == "orderedList"
    start = int((node.get("attrs") or {}).get("order", 1)) if ordered else 1
    lines: list[str] = []
    for index, item in enumerate(node.get("content") or []):
        marker = f"{start + index}. " if ordered else "- "
        body = "\n".join(_blocks(item.get("content") or [])) or ""
        pad = " " * len(marker)
        for n, line in enumerate(body.split("\n")):
            lines.append((marker if n == 0 else (pad if line else "")) + line)
    return "\n".join(lines)


_INLINE_TYPES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}


def _inline(nodes: list[Node]) -> str:
    parts: list[str] = []
    for node in nodes:
        kind = node.get("type")
        attrs = node.get("attrs") or {}
        if kind == "text":
            parts.append(_marked(node.get("text", ""), node.get("marks") or []))
        elif kind == "hardBreak":
            parts.append("\\\n")
        elif kind == "mention":
            name = str(attrs.get("text") or attrs.get("id") or "")
            parts.append(_escape(name if name.startswith("@") else "@" + name))
        elif kind == "emoji":
            parts.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind == "inlineCard":
            parts.append(str(attrs.get("url") or ""))
        elif kind == "status":
            parts.append(_escape(str(attrs.get("text") or "")))
        elif kind == "date":
            parts.append(str(attrs.get("timestamp") or ""))
        else:
            parts.append(_inline(node.get("content") or []))
    return "".join(parts)


def _marked(text: str, marks: list[Node]) -> str:
    kinds = {m.get("type"): m for m in marks}
    out = f"`{text}`" if "code" in kinds else _escape(text)
    for kind in _MARK_ORDER[1:]:
        if kind not in kinds:
            continue
        if kind == "em":
            out = f"*{out}*"
        elif kind == "strong":
            out = f"**{out}**"
        elif kind == "strike":
            out = f"~~{out}~~"
        elif kind == "link":
            out = f"[{out}]({(kinds['link'].get('attrs') or {}).get('href', '')})"
    return out


def _escape(text: str) -> str:
    return _ESCAPE.sub(r"\\\1", text)


def _escape_line_starts(text: str) -> str:
    return "\n".join(_LINE_START_ESCAPE.sub(_escape_marker, line) for line in text.split("\n"))


def _escape_marker(match: re.Match[str]) -> str:
    lead, marker = match.group(1), match.group(2)
    return lead + (marker + "\\" if marker[0].isdigit() else "\\" + marker)


# ---------------------------------------------------------------- Markdown -> ADF

_FENCE = re.compile(r"^\s*```\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*(?:-\s*){3,}$|^\s*(?:\*\s*){3,}$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")


def markdown_to_adf(markdown: str | None) -> Node:
    """Parse Markdown into an ADF document (``version: 1``)."""
    lines = (markdown or "").replace("\r\n", "\n").split("\n")
    return {"type": "doc", "version": 1, "content": _parse_blocks(lines)}


def _is_block_start(line: str) -> bool:
    return bool(
        _FENCE.match(line)
        or _HEADING.match(line)
        or _RULE.match(line)
        or _ITEM.match(line)
        or _QUOTE.match(line)
    )


def _parse_blocks(lines: list[str]) -> list[Node]:
    blocks: list[Node] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif fence := _FENCE.match(line):
            end = i + 1
            while end < len(lines) and not _FENCE.match(lines[end]):
                end += 1
            code: Node = {"type": "codeBlock", "content": []}
            if fence.group(1):
                code["attrs"] = {"language": fence.group(1)}
            text = "\n".join(lines[i + 1 : end])
            if text:
                code["content"] = [{"type": "text", "text": text}]
            blocks.append(code)
            i = end + 1
        elif _RULE.match(line):
            blocks.append({"type": "rule"})
            i += 1
        elif heading := _HEADING.match(line):
            blocks.append(
                {
                    "type": "heading",
                    "attrs": {"level": len(heading.group(1))},
                    "content": _parse_inline(heading.group(2)),
                }
            )
            i += 1
        elif _QUOTE.match(line):
            inner = []
            while i < len(lines) and (quote := _QUOTE.match(lines[i])):
                inner.append(quote.group(1))
                i += 1
            blocks.append({"type": "blockquote", "content": _parse_blocks(inner)})
        elif _ITEM.match(line):
            node, i = _parse_list(lines, i)
            blocks.append(node)
        else:
            para = [line]
            i += 1
            while i < len(lines) and lines[i].strip() and not _is_block_start(lines[i]):
                para.append(lines[i])
                i += 1
            blocks.append({"type": "paragraph", "content": _paragraph_inline(para)})
    return blocks


def _parse_list(lines: list[str], i: int) -> tuple[Node, int]:
    first = _ITEM.match(lines[i])
    assert first is not None
    indent = len(first.group(1))
    ordered = first.group(2)[0].isdigit()
    node: Node = {"type": "orderedList" if ordered else "bulletList", "content": []}
    if ordered:
        node["attrs"] = {"order": int(first.group(2)[:-1])}
    while i < len(lines):
        item = _ITEM.match(lines[i])
        if not item or len(item.group(1)) != indent or item.group(2)[0].isdigit() != ordered:
            break
        content_indent = indent + len(item.group(2)) + 1
        body = [item.group(3)]
        i += 1
        while i < len(lines):
            line = lines[i]
            stripped_indent = len(line) - len(line.lstrip(" "))
            if not line.strip():
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if nxt.strip() and len(nxt) - len(nxt.lstrip(" ")) > indent:
                    body.append("")
                    i += 1
                    continue
                break
            if stripped_indent <= indent and (_ITEM.match(line) or _is_block_start(line)):
                break
            if stripped_indent <= indent and not _ITEM.match(line):
                body.append(line.strip())  # lazy continuation line
            else:
                body.append(line[min(content_indent, stripped_indent) :])
            i += 1
        node["content"].append({"type": "listItem", "content": _parse_blocks(body)})
    return node, i


def _paragraph_inline(lines: list[str]) -> list[Node]:
    content: list[Node] = []
    for n, line in enumerate(lines):
        last = n == len(lines) - 1
        hard = not last and (line.endswith("\\") or line.endswith("  "))
        text = line[:-1] if line.endswith("\\") and not last else line
        text = text.rstrip() if hard or last else text.strip() + " "
        if n > 0 and not content_ends_with_break(content):
            text = text.lstrip()
        content.extend(_parse_inline(text))
        if hard:
            content.append({"type": "hardBreak"})
    return _merge_text(content)


def content_ends_with_break(content: list[Node]) -> bool:
    """Whether the inline content so far ends with a hard break."""
    return bool(content) and content[-1].get("type") == "hardBreak"


_INLINE = re.compile(
    r"(?P<escape>\\[\\`*_\[\]~#>+\-.()!])"
    r"|`(?P<code>[^`]+)`"
    r"|\[(?P<label>(?:\\.|[^\]\\])+)\]\((?P<href>[^)\s]+)\)"
    r"|\*\*(?P<strong>.+?)\*\*(?!\*)"
    r"|~~(?P<strike>.+?)~~"
    r"|\*(?P<em>[^*\s](?:.*?[^*\s])?)\*"
    r"|(?<![\w\\])_(?P<em2>[^_\s](?:.*?[^_\s])?)_(?!\w)"
)


def _parse_inline(text: str, marks: tuple[Node, ...] = ()) -> list[Node]:
    out: list[Node] = []
    pos = 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            out.append(_text(text[pos : match.start()], marks))
        pos = match.end()
        if (escaped := match.group("escape")) is not None:
            out.append(_text(escaped[1], marks))
        elif (code := match.group("code")) is not None:
            out.append(_text(code, (*marks, {"type": "code"})))
        elif (label := match.group("label")) is not None:
            link = {"type": "link", "attrs": {"href": match.group("href")}}
            out.extend(_parse_inline(label, (*marks, link)))
        elif (strong := match.group("strong")) is not None:
            out.extend(_parse_inline(strong, (*marks, {"type": "strong"})))
        elif (strike := match.group("strike")) is not None:
            out.extend(_parse_inline(strike, (*marks, {"type": "strike"})))
        else:
            em = match.group("em") if match.group("em") is not None else match.group("em2")
            out.extend(_parse_inline(em, (*marks, {"type": "em"})))
    if pos < len(text):
        out.append(_text(text[pos:], marks))
    return _merge_text(out)


def _text(text: str, marks: tuple[Node, ...]) -> Node:
    node: Node = {"type": "text", "text": text}
    if marks:
        order = {k: n for n, k in enumerate(_MARK_ORDER)}
        node["marks"] = sorted((dict(m) for m in marks), key=lambda m: order[m["type"]])
    return node


def _merge_text(nodes: list[Node]) -> list[Node]:
    merged: list[Node] = []
    for node in nodes:
        if node.get("type") == "text" and not node.get("text"):
            continue
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.get("type") == "text"
            and node.get("type") == "text"
            and prev.get("marks") == node.get("marks")
        ):
            merged[-1] = {**prev, "text": prev["text"] + node["text"]}
        else:
            merged.append(node)
    return merged
