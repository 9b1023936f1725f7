"""Documents are compared, not renderings; losing what Markdown only carries is named."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.errors import IntegrationError
from integrations.tickets.adf import (
    AdfError,
    adf_to_markdown,
    lost_nodes,
    markdown_to_adf,
    same_document,
)
from tests.unit.tickets.adf.conftest import HERE


def doc(*content: dict) -> dict:
    return {"type": "doc", "version": 1, "content": list(content)}


def para(*content: dict, **attrs: str) -> dict:
    node = {"type": "paragraph", "content": list(content)}
    if attrs:
        node["attrs"] = dict(attrs)
    return node


def text(value: str, *marks: str) -> dict:
    node: dict = {"type": "text", "text": value}
    if marks:
        node["marks"] = [{"type": m} for m in marks]
    return node


def test_what_is_not_content_does_not_count() -> None:
    a = doc(para(text("a", "strong", "em"), text("b", "strong", "em"), localId="x1"))
    b = {
        "version": 1,
        "type": "doc",
        "content": [{"type": "paragraph", "attrs": {}, "content": [text("ab", "em", "strong")]}],
    }
    assert same_document(a, b)
    assert same_document(None, doc()) and same_document(doc(para()), None) is False
    assert not same_document(a, doc(para(text("ab", "strong"))))


def test_an_unchanged_export_is_the_same_document() -> None:
    original = json.loads((HERE / "corpus" / "atlas-node_media.json").read_text())
    assert same_document(original, markdown_to_adf(adf_to_markdown(original)))


def test_lost_nodes_names_what_a_plain_rewrite_would_delete() -> None:
    original = json.loads((HERE / "corpus" / "atlas-node_media.json").read_text())
    assert lost_nodes(original, markdown_to_adf(adf_to_markdown(original))) == []
    rewritten = markdown_to_adf("This is an image\n\nand some text")
    lost = lost_nodes(original, rewritten)
    assert (
        "media(id='14407e98-14d3-4d5e-aa66-6a23621d5a85', collection='contentId-653558733')" in lost
    )
    assert lost.count("mediaSingle") == 6
    mention = {"type": "mention", "attrs": {"id": "557058:ab", "text": "@Ada"}}
    assert lost_nodes(doc(para(mention)), doc(para(text("@Ada")))) == ["mention(id='557058:ab')"]
    assert lost_nodes(None, doc()) == []


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("text", "document: not an ADF document"),
        ({"type": "doc", "content": "x"}, "document.content: expected a list"),
        ({"type": "doc", "content": [1]}, r"document.content\[0\]: expected a node object"),
        ({"type": "doc", "content": [{"type": "text"}]}, r"content\[0\].text: expected a string"),
        (
            {"type": "doc", "content": [{"type": "paragraph", "marks": [{"x": 1}]}]},
            r"content\[0\].marks\[0\]",
        ),
        ({"type": "doc", "content": [{"type": 3}]}, r"content\[0\].type"),
    ],
)
def test_malformed_documents_are_a_typed_error_naming_the_path(value, where) -> None:
    with pytest.raises(AdfError, match=where) as caught:
        adf_to_markdown(value)
    assert isinstance(caught.value, IntegrationError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["type", "content", "attrs", "marks", "text"]), inner)
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["type", "content", "attrs", "marks"]), JSON).map(
        lambda d: {**d, "type": "doc"}
    )
)
def test_any_json_is_markdown_or_a_typed_error(value) -> None:
    try:
        markdown = adf_to_markdown(value)
    except AdfError:
        return
    assert isinstance(markdown, str)


def test_unknown_node_types_count_as_lost_when_they_disappear() -> None:
    future = doc({"type": "hologram", "attrs": {"id": "h1"}})
    assert lost_nodes(future, markdown_to_adf(adf_to_markdown(future))) == ["hologram"]
