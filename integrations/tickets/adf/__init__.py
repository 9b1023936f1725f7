"""Atlassian Document Format (ADF) <-> Markdown, without loss, and document comparison.

``adf_to_markdown`` writes CommonMark/GFM where Markdown has the syntax (headings,
emphasis, links, code, lists, task lists, quotes, rules, tables) and carries everything
else in HTML comments and ``<adf-…>`` tags holding the node's JSON (see
`.envelope`): images keep their media ids, mentions their account ids, tables their
cells, panels and expands their Markdown content. ``markdown_to_adf`` parses any Markdown
with markdown-it-py into a document valid against Atlassian's published schema; for
Markdown written by ``adf_to_markdown`` it gives the original document back (in the normal
form of `normalize`).

Writes compare documents, not renderings: `same_document` ignores what is not
content (``localId``, empty attributes, mark order, text split); `lost_nodes` names
the nodes Markdown only carries (media, mentions, panels…) that a new document would drop.

ADF reference: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from integrations.tickets.adf.nodes import (
    AdfError,
    Node,
    check_document,
    normalize,
    strip_local_ids,
    walk,
)
from integrations.tickets.adf.parse import markdown_to_adf
from integrations.tickets.adf.render import render_document
from integrations.tickets.adf.schema import BLOCK_NODES, INLINE_NODES

__all__ = [
    "AdfError",
    "adf_to_markdown",
    "is_adf",
    "lost_nodes",
    "markdown_to_adf",
    "normalize",
    "same_document",
    "text_to_adf",
]

#: nodes Markdown has no syntax for (carried in envelopes), and the attributes that say
#: which one a node is
_CARRIED: dict[str, tuple[str, ...]] = {
    "media": ("id", "url", "collection"),
    "mediaInline": ("id", "collection"),
    "mediaSingle": (),
    "mediaGroup": (),
    "mention": ("id",),
    "emoji": ("shortName", "id"),
    "status": ("text", "color"),
    "date": ("timestamp",),
    "inlineCard": ("url", "data"),
    "blockCard": ("url", "data", "datasource"),
    "embedCard": ("url",),
    "placeholder": ("text",),
    "panel": ("panelType",),
    "expand": ("title",),
    "nestedExpand": ("title",),
    "layoutSection": (),
    "layoutColumn": ("width",),
    "decisionList": (),
    "decisionItem": ("state",),
    "extension": ("extensionKey", "extensionType", "parameters"),
    "bodiedExtension": ("extensionKey", "extensionType", "parameters"),
    "inlineExtension": ("extensionKey", "extensionType", "parameters"),
    "syncBlock": ("resourceId",),
    "bodiedSyncBlock": ("resourceId",),
}


_KNOWN = BLOCK_NODES | INLINE_NODES | {"doc"}


def is_adf(value: Any) -> bool:
    """Whether ``value`` looks like an ADF document."""
    return isinstance(value, dict) and value.get("type") == "doc"


def adf_to_markdown(doc: Node | None, where: str = "document") -> str:
    """Markdown for an ADF document (``""`` for None); parses back to the same document.

    Raises:
        AdfError: ``doc`` is not a well-formed ADF document (the message names the path,
            prefixed with ``where``).
    """
    if doc is None:
        return ""
    return render_document(check_document(doc, where))


def text_to_adf(text: str) -> Node:
    """Plain text as an ADF document, one paragraph per line (no Markdown parsing)."""
    paragraphs: list[Node] = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        if line
        else {"type": "paragraph"}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def _comparable(doc: Node | None) -> Node:
    if doc is None:
        return {"type": "doc", "content": []}
    node = normalize(check_document(doc))
    node.pop("version", None)
    return strip_local_ids(node)


def same_document(old: Node | None, new: Node | None) -> bool:
    """Whether two documents say the same: equal in normal form, ``localId`` ignored (an
    empty document and None are the same)."""
    a, b = _comparable(old), _comparable(new)
    return a == b or (not a.get("content") and not b.get("content"))


def _identity(node: Node) -> str:
    attrs = node.get("attrs") or {}
    keys = _CARRIED.get(node["type"], ())
    named = ", ".join(f"{k}={attrs[k]!r}" for k in keys if k in attrs and attrs[k] not in ("",))
    return f"{node['type']}({named})" if named else str(node["type"])


def lost_nodes(old: Node | None, new: Node | None) -> list[str]:
    """Nodes Markdown cannot show that ``old`` has and ``new`` lacks (as a multiset),
    each named with what identifies it: ``["media(id='…', collection='…')", …]``. Node
    types the schema does not know count too (Markdown keeps them only as text)."""
    if old is None:
        return []

    def carried(doc: Node | None) -> Counter[str]:
        if doc is None:
            return Counter()
        return Counter(
            _identity(n)
            for _, n in walk(check_document(doc))
            if n["type"] in _CARRIED or n["type"] not in _KNOWN  # unknown: carried as text
        )

    missing = carried(old) - carried(new)
    return sorted(missing.elements())
