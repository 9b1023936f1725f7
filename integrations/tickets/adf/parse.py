"""Markdown -> ADF with markdown-it-py (CommonMark, GFM tables, strikethrough, task lists
and autolinks), always a document valid against Atlassian's published schema.

What Markdown can say but ADF cannot hold where it was said is reshaped, never dropped:
a heading inside a list item or quote becomes a paragraph, a quote inside a quote is
flattened, a block a container may not hold (a table in a list item, a rule in a quote)
is lifted out to follow it, an empty list item gets an empty paragraph. Block HTML other
than our envelopes (see `.envelope`) stays text; inline content: `.parse_inline`.
"""

from __future__ import annotations

import copy
import re
import uuid
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from integrations.tickets.adf.envelope import Directive, parse_directive
from integrations.tickets.adf.nodes import Node, merge_texts, normalize
from integrations.tickets.adf.parse_inline import inline_atom, inline_content
from integrations.tickets.adf.schema import (
    ALLOWED,
    BLOCK_NODES,
    INLINE_CONTAINERS,
    INLINE_NODES,
    MUST_HAVE_CONTENT,
    REQUIRED_ATTRS,
)

__all__ = ["markdown_parser", "markdown_to_adf", "parse_blocks"]

_TASK = re.compile(r"^\[([ xX])\](?: |$)")
_ALIGN = {"text-align:center": "center", "text-align:right": "end"}


@cache
def markdown_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.disable("text_join")  # keeps escapes apart, so "\[ ] x" is no task item
    assert md.linkify is not None  # installed with markdown-it-py[linkify]
    md.linkify.set({"fuzzy_link": False})  # GFM: scheme:// and e-mail autolinks
    # hrefs are kept as written (ADF stores what the author wrote; Jira sanitises)
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def markdown_to_adf(markdown: str | None) -> Node:
    """Parse Markdown into a valid ADF document (``version: 1``)."""
    return {"type": "doc", "version": 1, "content": parse_blocks(markdown or "", "doc")}


def parse_blocks(markdown: str, parent: str) -> list[Node]:
    """The blocks ``markdown`` holds, fitted for a ``parent`` container, in normal form."""
    tree = SyntaxTreeNode(markdown_parser().parse(markdown.replace("\r\n", "\n")))
    blocks = _blocks(list(tree.children), parent)
    if parent == "doc":
        blocks = _settle(blocks)
    return [normalize(n) for n in blocks]


def _settle(nodes: list[Node]) -> list[Node]:
    """Top-level blocks a document may hold: what was lifted this far and still does not
    fit is unwrapped (its content kept), inline nodes get a paragraph."""
    out: list[Node] = []
    for node in nodes:
        kind = node["type"]
        if kind in ALLOWED["doc"]:
            out.append(node)
        elif kind in INLINE_NODES:
            out.append({"type": "paragraph", "content": [node]})
        elif kind in INLINE_CONTAINERS:
            out.append({"type": "paragraph", "content": node.get("content") or []})
        else:
            out.extend(_settle(node.get("content") or []))
    return out


# ------------------------------------------------------------------ blocks


def _blocks(nodes: list[SyntaxTreeNode], parent: str) -> list[Node]:
    out: list[Node] = []
    skeleton: dict[str, Any] | None = None
    i = 0
    while i < len(nodes):
        node = nodes[i]
        i += 1
        directive = parse_directive(node.content) if node.type == "html_block" else None
        if directive is None:
            made = _block(node, parent)
            if skeleton is not None and made:
                made[0] = _apply_skeleton(made[0], skeleton)
            skeleton = None
            out.extend(made)
        elif directive.kind == "attrs":
            skeleton = directive.data
        elif directive.kind == "leaf":
            skeleton = None
            out.append(_leaf(directive, node))
        elif directive.kind == "open":
            skeleton = None
            end = _matching_close(nodes, i, directive.node_type)
            out.extend(_container(directive, nodes[i:end], parent))
            i = end + 1
        # a stray close comment is our own syntax with nothing to close: nothing to keep
    return _fit(parent, out)


def _matching_close(nodes: list[SyntaxTreeNode], start: int, node_type: str) -> int:
    depth = 0
    for j in range(start, len(nodes)):
        if nodes[j].type != "html_block":
            continue
        found = parse_directive(nodes[j].content)
        if found is None or found.node_type != node_type:
            continue
        if found.kind == "open":
            depth += 1
        elif found.kind == "close":
            if depth == 0:
                return j
            depth -= 1
    return len(nodes)


def _leaf(directive: Directive, source: SyntaxTreeNode) -> Node:
    node = copy.deepcopy(directive.data or {})
    if node.get("type") in INLINE_NODES:
        return {"type": "paragraph", "content": inline_atom(node, source.content.strip())}
    if node.get("type") not in BLOCK_NODES or not _complete(node):
        return _text_paragraph(source.content.strip())  # not a node ADF knows: text
    return node


def _complete(node: Node) -> bool:
    """Whether ``node`` (and its children) have the attributes they need; missing
    ``localId``s are generated."""
    kind = node["type"]
    if kind not in BLOCK_NODES and kind not in INLINE_NODES:
        return False
    attrs = node.get("attrs")
    if attrs is not None and not isinstance(attrs, dict):
        return False
    attrs = attrs or {}
    for name in REQUIRED_ATTRS.get(kind, ()):
        if name not in attrs:
            if name != "localId":
                return False
            node["attrs"] = attrs = {**attrs, "localId": _new_id()}
    children = node.get("content")
    if children is None:
        return True
    return isinstance(children, list) and all(
        isinstance(c, dict) and isinstance(c.get("type"), str) and _complete(c) for c in children
    )


def _container(directive: Directive, children: list[SyntaxTreeNode], parent: str) -> list[Node]:
    data = directive.data or {}
    node: Node = {"type": directive.node_type}
    for key in ("attrs", "marks"):
        if isinstance(data.get(key), dict if key == "attrs" else list):
            node[key] = copy.deepcopy(data[key])
    kind = directive.node_type
    if not _complete(node):  # an envelope we cannot honour: its content stands alone
        return _blocks(children, parent)
    if kind in INLINE_CONTAINERS:
        inner = _blocks(children, "doc")
        node["content"], lifted = _inline_of(inner)
        return [node, *lifted]
    if kind == "codeBlock":
        inner = _blocks(children, "doc")
        code = [b for b in inner if b["type"] == "codeBlock"]
        text = "\n".join(t.get("text", "") for b in code for t in b.get("content") or [])
        if text:
            node["content"] = [{"type": "text", "text": text}]
        return [node, *[b for b in inner if b["type"] != "codeBlock"]]
    content = _blocks(children, kind)
    kept = [c for c in content if c["type"] in ALLOWED.get(kind, ())]
    lifted = [c for c in content if c["type"] not in ALLOWED.get(kind, ())]
    node["content"] = kept
    return [*_filled(node), *lifted]


def _inline_of(blocks: list[Node]) -> tuple[list[Node], list[Node]]:
    """Inline content of the paragraphs/headings among ``blocks`` (joined by hard breaks),
    and the other blocks."""
    inline: list[Node] = []
    rest: list[Node] = []
    for block in blocks:
        if block["type"] in ("paragraph", "heading"):
            if inline and block.get("content"):
                inline.append({"type": "hardBreak"})
            inline.extend(block.get("content") or [])
        else:
            rest.append(block)
    return merge_texts(inline), rest


def _filled(node: Node) -> list[Node]:
    """``node`` with the content its schema requires (nothing when it cannot have any)."""
    if node.get("content"):
        return [node]
    if node["type"] in MUST_HAVE_CONTENT:
        node["content"] = [{"type": "paragraph"}]
        return [node]
    if node["type"] in ALLOWED:  # lists, tables, layouts...: empty is invalid
        return []
    return [node]


def _fit(parent: str, nodes: list[Node]) -> list[Node]:
    """Children ``parent`` may hold: headings become paragraphs where only paragraphs may
    go, nested quotes are flattened, other misplaced blocks are lifted to the caller."""
    allowed = ALLOWED.get(parent)
    if allowed is None:
        return nodes
    out: list[Node] = []
    for node in nodes:
        kind = node["type"]
        if kind in allowed:
            out.append(node)
        elif kind == "heading" and "paragraph" in allowed:
            out.append({"type": "paragraph", "content": node.get("content") or []})
        elif kind == "blockquote" and parent == "blockquote":
            out.extend(_fit(parent, node.get("content") or []))
        elif kind in INLINE_NODES and "paragraph" in allowed:
            out.append({"type": "paragraph", "content": [node]})
        else:
            out.append(node)  # lifted: the caller places it after this container
    return out


def _block(node: SyntaxTreeNode, parent: str) -> list[Node]:
    kind = node.type
    if kind == "paragraph":
        return [{"type": "paragraph", "content": inline_content(node.children[0])}]
    if kind == "heading":
        level = int(node.tag[1])
        return [
            {
                "type": "heading",
                "attrs": {"level": level},
                "content": inline_content(node.children[0]),
            }
        ]
    if kind in ("fence", "code_block"):
        code: Node = {"type": "codeBlock"}
        language = node.info.strip() if kind == "fence" else ""
        if language:
            code["attrs"] = {"language": language}
        text = node.content[:-1] if node.content.endswith("\n") else node.content
        if text:
            code["content"] = [{"type": "text", "text": text}]
        return [code]
    if kind == "hr":
        return [{"type": "rule"}]
    if kind == "blockquote":
        content = _blocks(list(node.children), "blockquote")
        kept = [c for c in content if c["type"] in ALLOWED["blockquote"]]
        lifted = [c for c in content if c["type"] not in ALLOWED["blockquote"]]
        return [*_filled({"type": "blockquote", "content": kept}), *lifted]
    if kind == "bullet_list":
        return _bullet_list(node)
    if kind == "ordered_list":
        start = int(node.attrs.get("start", 1) or 1)
        return _list("orderedList", list(node.children), start)
    if kind == "table":
        return [_table(node)]
    if kind == "html_block":  # HTML that is not ours: its text, line by line
        return [_text_paragraph(node.content.strip("\n"))]
    return [_text_paragraph(node.content)] if node.content else []


def _text_paragraph(text: str) -> Node:
    content: list[Node] = []
    for n, line in enumerate(text.split("\n")):
        if n:
            content.append({"type": "hardBreak"})
        if line:
            content.append({"type": "text", "text": line})
    return {"type": "paragraph", "content": content}


def _list(kind: str, items: list[SyntaxTreeNode], start: int = 1) -> list[Node]:
    out: list[Node] = []
    lifted: list[Node] = []
    for item in items:
        content = _blocks(list(item.children), "listItem")
        kept = [c for c in content if c["type"] in ALLOWED["listItem"]]
        lifted.extend(c for c in content if c["type"] not in ALLOWED["listItem"])
        if not kept or kept[0]["type"] not in ("paragraph", "codeBlock", "mediaSingle"):
            kept.insert(0, {"type": "paragraph"})
        out.append({"type": "listItem", "content": kept})
    node: Node = {"type": kind, "content": out}
    if kind == "orderedList" and start != 1:
        node["attrs"] = {"order": start}
    return [node, *lifted]


def _task_state(item: SyntaxTreeNode) -> str | None:
    """``TODO``/``DONE`` when a list item starts with ``[ ]``/``[x]``, else None."""
    if not item.children or item.children[0].type != "paragraph":
        return None
    inline = item.children[0].children[0].token
    first = inline.children[0] if inline is not None and inline.children else None
    if first is None or first.type != "text":
        return None
    match = _TASK.match(first.content)
    return None if match is None else ("TODO" if match.group(1) == " " else "DONE")


def _bullet_list(node: SyntaxTreeNode) -> list[Node]:
    out: list[Node] = []
    run: list[SyntaxTreeNode] = []
    run_tasks = False
    for item in [*node.children, None]:
        is_task = item is not None and _task_state(item) is not None
        if item is None or (run and is_task != run_tasks):
            if run:
                out.extend(_task_list(run) if run_tasks else _list("bulletList", run))
            run = []
        if item is not None:
            run.append(item)
            run_tasks = is_task
    return out


def _task_list(items: list[SyntaxTreeNode]) -> list[Node]:
    content: list[Node] = []
    lifted: list[Node] = []
    for item in items:
        state = _task_state(item) or "TODO"
        first = item.children[0].children[0].token
        assert first is not None and first.children
        token = first.children[0]
        token.content = _TASK.sub("", token.content, count=1)
        task: Node = {"type": "taskItem", "attrs": {"localId": _new_id(), "state": state}}
        inline = inline_content(item.children[0].children[0])
        if inline:
            task["content"] = inline
        content.append(task)
        for block in _blocks(list(item.children[1:]), "taskList"):
            (content if block["type"] in ALLOWED["taskList"] else lifted).append(block)
    return [{"type": "taskList", "attrs": {"localId": _new_id()}, "content": content}, *lifted]


def _new_id() -> str:
    return str(uuid.uuid4())


def _table(node: SyntaxTreeNode) -> Node:
    rows: list[Node] = []
    for section in node.children:
        for row in section.children:
            cells = []
            for cell in row.children:
                paragraph: Node = {"type": "paragraph", "content": inline_content(cell.children[0])}
                align = _ALIGN.get(str(cell.attrs.get("style", "")))
                if align:
                    paragraph["marks"] = [{"type": "alignment", "attrs": {"align": align}}]
                kind = "tableHeader" if cell.type == "th" else "tableCell"
                cells.append({"type": kind, "content": [paragraph]})
            rows.append({"type": "tableRow", "content": cells})
    return {"type": "table", "content": rows}


def _apply_skeleton(node: Node, skeleton: dict[str, Any]) -> Node:
    """Put back what the Markdown could not show (attributes, block marks, those of the
    children), where the skeleton's types still match the parsed structure."""
    if skeleton.get("type", node["type"]) != node["type"]:
        return node
    out = dict(node)
    if isinstance(skeleton.get("attrs"), dict):
        out["attrs"] = {**(node.get("attrs") or {}), **copy.deepcopy(skeleton["attrs"])}
    if isinstance(skeleton.get("marks"), list):
        out["marks"] = copy.deepcopy(skeleton["marks"])
    children = skeleton.get("content")
    if isinstance(children, list) and isinstance(node.get("content"), list):
        out["content"] = [
            _apply_skeleton(child, sub) if isinstance(sub, dict) else child
            for child, sub in zip(
                node["content"], [*children, *[None] * len(node["content"])], strict=False
            )
        ]
    return out
