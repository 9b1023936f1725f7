"""What Atlassian's ADF JSON schema allows (``@atlaskit/adf-schema`` ``full.json``).

Which block may sit in which container, which attributes a node cannot do without, which
marks a text may carry together. The Markdown parser uses these rules to turn anything
Markdown can say into a valid document.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ALLOWED",
    "BLOCK_NODES",
    "INLINE_CONTAINERS",
    "INLINE_NODES",
    "MUST_HAVE_CONTENT",
    "REQUIRED_ATTRS",
    "allowed_marks",
    "sort_marks",
]

Node = dict[str, Any]

INLINE_NODES = frozenset(
    {
        "text",
        "hardBreak",
        "mention",
        "emoji",
        "date",
        "status",
        "inlineCard",
        "placeholder",
        "mediaInline",
        "inlineExtension",
    }
)
#: every block-level node type of the schema
BLOCK_NODES = frozenset(
    {
        "blockCard",
        "blockTaskItem",
        "blockquote",
        "bodiedExtension",
        "bodiedSyncBlock",
        "bulletList",
        "caption",
        "codeBlock",
        "decisionItem",
        "decisionList",
        "embedCard",
        "expand",
        "extension",
        "heading",
        "layoutColumn",
        "layoutSection",
        "listItem",
        "media",
        "mediaGroup",
        "mediaSingle",
        "nestedExpand",
        "orderedList",
        "panel",
        "paragraph",
        "rule",
        "syncBlock",
        "table",
        "tableCell",
        "tableHeader",
        "tableRow",
        "taskItem",
        "taskList",
    }
)
#: nodes whose content is inline
INLINE_CONTAINERS = frozenset({"paragraph", "heading", "taskItem", "decisionItem", "caption"})

_NON_NESTABLE = frozenset(
    {
        "paragraph",
        "panel",
        "blockquote",
        "orderedList",
        "bulletList",
        "rule",
        "heading",
        "codeBlock",
        "mediaGroup",
        "mediaSingle",
        "decisionList",
        "taskList",
        "table",
        "blockCard",
        "embedCard",
        "extension",
    }
)
_CELL = frozenset(
    {
        "paragraph",
        "panel",
        "blockquote",
        "orderedList",
        "bulletList",
        "rule",
        "heading",
        "codeBlock",
        "mediaSingle",
        "mediaGroup",
        "decisionList",
        "taskList",
        "blockCard",
        "embedCard",
        "extension",
        "nestedExpand",
    }
)
_TOP = frozenset(
    {
        "blockCard",
        "codeBlock",
        "mediaSingle",
        "paragraph",
        "taskList",
        "orderedList",
        "bulletList",
        "blockquote",
        "decisionList",
        "embedCard",
        "extension",
        "heading",
        "mediaGroup",
        "rule",
        "panel",
        "table",
        "bodiedExtension",
        "expand",
        "layoutSection",
        "syncBlock",
        "bodiedSyncBlock",
    }
)
_LIST_ITEM = frozenset(
    {"paragraph", "bulletList", "orderedList", "taskList", "mediaSingle", "codeBlock", "extension"}
)

#: block children each container may hold (full.json); inline containers are not listed
ALLOWED: dict[str, frozenset[str]] = {
    "doc": _TOP,
    "blockquote": frozenset(
        {
            "paragraph",
            "orderedList",
            "bulletList",
            "codeBlock",
            "mediaSingle",
            "mediaGroup",
            "extension",
        }
    ),
    "listItem": _LIST_ITEM,
    "bulletList": frozenset({"listItem"}),
    "orderedList": frozenset({"listItem"}),
    "taskList": frozenset({"taskItem", "taskList", "blockTaskItem"}),
    "blockTaskItem": frozenset({"paragraph", "extension"}),
    "decisionList": frozenset({"decisionItem"}),
    "panel": frozenset(
        {
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "blockCard",
            "mediaGroup",
            "mediaSingle",
            "codeBlock",
            "taskList",
            "rule",
            "decisionList",
            "extension",
        }
    ),
    "table": frozenset({"tableRow"}),
    "tableRow": frozenset({"tableCell", "tableHeader"}),
    "tableCell": _CELL,
    "tableHeader": _CELL,
    "expand": _NON_NESTABLE | {"nestedExpand"},
    "nestedExpand": frozenset(
        {
            "paragraph",
            "heading",
            "mediaSingle",
            "mediaGroup",
            "codeBlock",
            "bulletList",
            "orderedList",
            "taskList",
            "decisionList",
            "rule",
            "panel",
            "blockquote",
            "extension",
        }
    ),
    "bodiedExtension": _NON_NESTABLE,
    "layoutSection": frozenset({"layoutColumn"}),
    "layoutColumn": (_TOP - {"layoutSection", "syncBlock", "bodiedSyncBlock"}),
    "bodiedSyncBlock": _TOP - {"bodiedSyncBlock", "syncBlock", "extension"},
    "mediaSingle": frozenset({"media", "caption"}),
    "mediaGroup": frozenset({"media"}),
}

#: attributes a block node cannot do without (full.json ``required``); a missing
#: ``localId`` is generated, anything else makes an envelope unusable
REQUIRED_ATTRS: dict[str, tuple[str, ...]] = {
    "heading": ("level",),
    "panel": ("panelType",),
    "taskList": ("localId",),
    "taskItem": ("localId", "state"),
    "blockTaskItem": ("localId", "state"),
    "decisionList": ("localId",),
    "decisionItem": ("localId", "state"),
    "layoutColumn": ("width",),
    "extension": ("extensionKey", "extensionType"),
    "bodiedExtension": ("extensionKey", "extensionType"),
    "syncBlock": ("resourceId", "localId"),
    "bodiedSyncBlock": ("resourceId", "localId"),
    "embedCard": ("url", "layout"),
    "media": ("type",),
}

#: containers that must not be empty (minItems 1), and what fills an empty one
MUST_HAVE_CONTENT = frozenset(
    {
        "blockquote",
        "listItem",
        "panel",
        "tableCell",
        "tableHeader",
        "expand",
        "nestedExpand",
        "layoutColumn",
        "bodiedExtension",
        "bodiedSyncBlock",
        "blockTaskItem",
    }
)

_TEXT_MARKS = frozenset(
    {
        "link",
        "em",
        "strong",
        "strike",
        "subsup",
        "underline",
        "textColor",
        "annotation",
        "backgroundColor",
    }
)
_CODE_MARKS = frozenset({"code", "link", "annotation"})
#: canonical mark order (marks are a set; the order only makes documents comparable)
MARK_RANK = {
    name: n
    for n, name in enumerate(
        (
            "link",
            "em",
            "strong",
            "strike",
            "subsup",
            "underline",
            "textColor",
            "backgroundColor",
            "code",
            "annotation",
        )
    )
}


def allowed_marks(marks: list[Node]) -> list[Node]:
    """The marks a text may carry together: code only with link/annotation, one of each
    type (annotations may repeat with other ids), in canonical order."""
    types = {m.get("type") for m in marks}
    permitted = _CODE_MARKS if "code" in types else _TEXT_MARKS | {"code"}
    out: list[Node] = []
    seen: set[str] = set()
    for mark in reversed(marks):  # the innermost of two same-type marks wins
        kind = mark.get("type")
        if kind not in permitted:
            continue
        key = json.dumps(mark, sort_keys=True) if kind == "annotation" else str(kind)
        if key not in seen:
            seen.add(key)
            out.append(mark)
    return sort_marks(out)


def sort_marks(marks: list[Node]) -> list[Node]:
    """Marks in canonical order (by type, then attributes)."""
    return sorted(
        marks,
        key=lambda m: (MARK_RANK.get(str(m.get("type")), 99), str(m.get("type")), _key(m)),
    )


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
