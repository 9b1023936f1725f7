"""Hypothesis strategies for ADF documents valid against full.json, every node and mark
kind included (depth-limited), and for Markdown written the way people write it."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Node = dict[str, Any]

# characters Markdown gives meaning to, whitespace at the edges, entities, autolinks
TEXT = st.text(
    alphabet=st.sampled_from(
        [*"abcXYZ019 *_`[]()<>#-+=!|~\\&:@./;'\"\t\n", "é", "ß", "中", "😀", "\u00a0"]
    ),
    min_size=1,
    max_size=12,
) | st.sampled_from(["https://ex.com/a_b", "a@b.co", "www.ex.com", "1. x", "# h", "&amp;", "  "])
IDS = st.uuids().map(str)
HREF = st.sampled_from(
    ["https://ex.com", "https://ex.com/a_(b)?q=1&r=2", "mailto:a@b.co", "/rel", ""]
)
COLOR = st.sampled_from(["#ff0000", "#00B8D9", "#97a0af"])

FORMAT_MARKS = (
    st.sampled_from(
        [
            {"type": "em"},
            {"type": "strong"},
            {"type": "strike"},
            {"type": "underline"},
            {"type": "subsup", "attrs": {"type": "sub"}},
            {"type": "subsup", "attrs": {"type": "sup"}},
        ]
    )
    | st.builds(lambda c: {"type": "textColor", "attrs": {"color": c}}, COLOR)
    | st.builds(lambda c: {"type": "backgroundColor", "attrs": {"color": c}}, COLOR)
    | st.builds(
        lambda i: {"type": "annotation", "attrs": {"id": i, "annotationType": "inlineComment"}},
        st.sampled_from(["a1", "a2"]),
    )
)
LINK = st.builds(
    lambda h, t: {"type": "link", "attrs": {"href": h, **({"title": t} if t else {})}},
    HREF,
    st.none() | st.sampled_from(["T", 'say "hi"']),
)


def _unique(marks: list[Node]) -> list[Node]:
    out: dict[str, Node] = {}
    for mark in marks:
        key = mark["type"] if mark["type"] != "annotation" else str(mark)
        if mark["type"] == "subsup":
            key = "subsup"
        out[key] = mark
    return list(out.values())


TEXT_MARKS = st.one_of(
    st.lists(st.one_of(FORMAT_MARKS, LINK), max_size=3).map(_unique),
    st.builds(lambda link: [{"type": "code"}, *link], st.lists(LINK, max_size=1)),
)


@st.composite
def text_node(draw: st.DrawFn) -> Node:
    node: Node = {"type": "text", "text": draw(TEXT)}
    marks = draw(TEXT_MARKS)
    if marks:
        node["marks"] = marks
    return node


ATOMS = st.one_of(
    st.just({"type": "hardBreak"}),
    st.builds(
        lambda i, t: {"type": "mention", "attrs": {"id": i, "text": t, "accessLevel": ""}},
        st.sampled_from(["557058:f5b2", "5b10a2844c20165700ede21g"]),
        st.sampled_from(["@Ada", "@Mia Krystof"]),
    ),
    st.just({"type": "emoji", "attrs": {"shortName": ":grin:", "id": "1f601", "text": "😁"}}),
    st.builds(
        lambda t: {"type": "date", "attrs": {"timestamp": t}}, st.sampled_from(["1566259200000"])
    ),
    st.builds(
        lambda t, i: {"type": "status", "attrs": {"text": t, "color": "blue", "localId": i}},
        st.sampled_from(["IN PROGRESS", "done *"]),
        IDS,
    ),
    st.just({"type": "inlineCard", "attrs": {"url": "https://ex.atlassian.net/browse/PRJ-1"}}),
    st.just({"type": "placeholder", "attrs": {"text": "Type here"}}),
    st.builds(
        lambda i: {"type": "mediaInline", "attrs": {"id": i, "collection": "", "type": "file"}},
        IDS,
    ),
)
INLINE = st.lists(st.one_of(text_node(), text_node(), ATOMS), max_size=5)


def _with_id(node: Node, draw: st.DrawFn) -> Node:
    if draw(st.booleans()):
        node.setdefault("attrs", {})["localId"] = draw(IDS)
    return node


@st.composite
def paragraph(draw: st.DrawFn, marks: bool = False) -> Node:
    node: Node = {"type": "paragraph", "content": draw(INLINE)}
    if marks and draw(st.booleans()):
        node["marks"] = [
            draw(
                st.sampled_from(
                    [
                        {"type": "alignment", "attrs": {"align": "center"}},
                        {"type": "alignment", "attrs": {"align": "end"}},
                        {"type": "indentation", "attrs": {"level": 2}},
                    ]
                )
            )
        ]
    return _with_id(node, draw)


@st.composite
def heading(draw: st.DrawFn) -> Node:
    return {
        "type": "heading",
        "attrs": {"level": draw(st.integers(1, 6))},
        "content": draw(INLINE),
    }


@st.composite
def code_block(draw: st.DrawFn) -> Node:
    node: Node = {"type": "codeBlock"}
    language = draw(st.none() | st.sampled_from(["python", "c++", "", "js title"]))
    if language is not None:
        node["attrs"] = {"language": language}
    text = draw(st.none() | st.text(alphabet="ab `~\n\t#>-", min_size=1, max_size=20))
    if text:
        node["content"] = [{"type": "text", "text": text}]
    return node


def list_item(depth: int) -> st.SearchStrategy[Node]:
    rest = st.lists(
        st.one_of(paragraph(), code_block(), *([any_list(depth - 1)] if depth > 0 else [])),
        max_size=2,
    )
    first = st.one_of(paragraph(), paragraph(), code_block())
    return st.builds(lambda f, r: {"type": "listItem", "content": [f, *r]}, first, rest)


def any_list(depth: int, tasks: bool = True) -> st.SearchStrategy[Node]:
    items = st.lists(list_item(depth), min_size=1, max_size=3)
    bullet = items.map(lambda c: {"type": "bulletList", "content": c})
    ordered = st.builds(
        lambda c, o: {
            "type": "orderedList",
            "content": c,
            **({"attrs": {"order": o}} if o is not None else {}),
        },
        items,
        st.none() | st.integers(0, 12),
    )
    return st.one_of(bullet, ordered, *([task_list(depth)] if tasks else []))


def task_list(depth: int) -> st.SearchStrategy[Node]:
    item = st.builds(
        lambda i, s, c: {"type": "taskItem", "attrs": {"localId": i, "state": s}, "content": c},
        IDS,
        st.sampled_from(["TODO", "DONE"]),
        INLINE,
    )
    nested = [task_list(depth - 1)] if depth > 0 else []
    rest = st.lists(st.one_of(item, *nested), max_size=3)
    return st.builds(
        lambda i, f, r: {"type": "taskList", "attrs": {"localId": i}, "content": [f, *r]},
        IDS,
        item,
        rest,
    )


MEDIA = st.builds(
    lambda i, w: {
        "type": "media",
        "attrs": {
            "type": "file",
            "id": i,
            "collection": "contentId-1",
            **({"width": w} if w else {}),
        },
    },
    IDS,
    st.none() | st.integers(1, 2000),
)
MEDIA_SINGLE = st.builds(
    lambda m, layout, cap: {
        "type": "mediaSingle",
        "attrs": {"layout": layout},
        "content": [
            m,
            *([{"type": "caption", "content": [{"type": "text", "text": cap}]}] if cap else []),
        ],
    },
    MEDIA,
    st.sampled_from(["center", "wide", "align-start"]),
    st.none() | st.sampled_from(["A caption"]),
)


def cell(kind: str, depth: int) -> st.SearchStrategy[Node]:
    content = st.lists(
        st.one_of(paragraph(), *([any_list(0)] if depth > 0 else [])), min_size=1, max_size=2
    )
    attrs = st.fixed_dictionaries(
        {}, optional={"colwidth": st.just([120]), "background": COLOR, "colspan": st.just(1)}
    )
    return st.builds(lambda c, a: {"type": kind, "attrs": a, "content": c}, content, attrs)


@st.composite
def table(draw: st.DrawFn, depth: int = 1) -> Node:
    width = draw(st.integers(1, 3))
    height = draw(st.integers(1, 3))
    header = draw(st.booleans())
    rows = []
    for r in range(height):
        kind = "tableHeader" if header and r == 0 else "tableCell"
        rows.append(
            {"type": "tableRow", "content": [draw(cell(kind, depth)) for _ in range(width)]}
        )
    attrs = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "isNumberColumnEnabled": st.booleans(),
                "layout": st.just("default"),
                "localId": IDS,
            },
        )
    )
    return {"type": "table", "attrs": attrs, "content": rows}


def blocks(depth: int) -> st.SearchStrategy[Node]:
    simple = [
        paragraph(marks=True),
        heading(),
        code_block(),
        st.just({"type": "rule"}),
        MEDIA_SINGLE,
    ]
    if depth <= 0:
        return st.one_of(*simple)
    inner = st.lists(st.one_of(paragraph(), any_list(0), code_block()), min_size=1, max_size=3)
    quoted = st.lists(
        st.one_of(paragraph(), any_list(0, tasks=False), code_block()), min_size=1, max_size=3
    )
    return st.one_of(
        *simple,
        any_list(depth),
        quoted.map(lambda c: {"type": "blockquote", "content": c}),
        st.builds(
            lambda t, c: {"type": "panel", "attrs": {"panelType": t}, "content": c},
            st.sampled_from(["info", "note", "warning"]),
            inner,
        ),
        st.builds(
            lambda t, c: {"type": "expand", "attrs": {"title": t}, "content": c},
            st.sampled_from(["More", ""]),
            inner,
        ),
        st.builds(
            lambda i, items: {"type": "decisionList", "attrs": {"localId": i}, "content": items},
            IDS,
            st.lists(
                st.builds(
                    lambda i, c: {
                        "type": "decisionItem",
                        "attrs": {"localId": i, "state": "DECIDED"},
                        "content": c,
                    },
                    IDS,
                    INLINE,
                ),
                min_size=1,
                max_size=2,
            ),
        ),
        table(depth),
        st.builds(
            lambda m: {"type": "mediaGroup", "content": m}, st.lists(MEDIA, min_size=1, max_size=2)
        ),
        st.builds(
            lambda cols: {"type": "layoutSection", "content": cols},
            st.lists(
                inner.map(lambda c: {"type": "layoutColumn", "attrs": {"width": 50}, "content": c}),
                min_size=2,
                max_size=3,
            ),
        ),
        st.just({"type": "blockCard", "attrs": {"url": "https://ex.com/page"}}),
        st.just(
            {
                "type": "extension",
                "attrs": {
                    "extensionKey": "toc",
                    "extensionType": "com.atlassian.confluence.macro.core",
                },
            }
        ),
    )


DOCS = st.lists(blocks(2), max_size=4).map(lambda c: {"type": "doc", "version": 1, "content": c})

# Markdown as people write it: block syntax at line starts, inline syntax anywhere
MARKDOWN = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "# ",
                "## ",
                "- ",
                "* ",
                "1. ",
                "3) ",
                "> ",
                "```",
                "~~~",
                "    ",
                "- [ ] ",
                "- [x] ",
                "| a | b |\n|---|---|\n",
                "---",
                "===",
                "\n",
                "\n\n",
                "  \n",
                "<br>",
                "<u>",
                "</u>",
                "<!-- x -->",
                "<div>",
                "**",
                "__",
                "*",
                "_",
                "`",
                "~~",
                "[",
                "](",
                ")",
                "<",
                ">",
                "https://ex.com",
                "\\",
                "&amp;",
                "![",
                "|",
            ]
        ),
        st.text(alphabet="ab c\t", min_size=1, max_size=5),
    ),
    max_size=25,
).map("".join)
