"""ADF -> Markdown -> ADF is the identity; Markdown -> ADF is always schema-valid."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from integrations.tickets.adf import adf_to_markdown, markdown_to_adf, normalize
from integrations.tickets.testing.openapi import jira_adf_examples
from tests.unit.tickets.adf.conftest import CORPUS, schema_errors
from tests.unit.tickets.adf.strategies import DOCS, MARKDOWN

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    return markdown_to_adf(adf_to_markdown(doc))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_documents_survive_markdown(path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert roundtrip(doc) == normalize(doc)


SPEC_DOCS = jira_adf_examples()


def test_the_jira_spec_examples_were_found() -> None:
    assert len(SPEC_DOCS) >= 10


@pytest.mark.parametrize("doc", SPEC_DOCS, ids=lambda d: adf_to_markdown(d)[:30])
def test_jira_spec_examples_survive_markdown(doc) -> None:
    assert roundtrip(doc) == normalize(doc)


@PROPERTY
@given(DOCS)
def test_generated_documents_are_valid_and_survive_markdown(doc) -> None:
    assert schema_errors(doc) == []  # the generator itself stays honest
    markdown = adf_to_markdown(doc)
    back = markdown_to_adf(markdown)
    assert back == normalize(doc), markdown
    assert schema_errors(back) == []


@PROPERTY
@given(MARKDOWN)
def test_markdown_gives_valid_adf_and_a_fixed_point(markdown) -> None:
    doc = markdown_to_adf(markdown)
    assert schema_errors(doc) == [], markdown
    again = adf_to_markdown(doc)
    assert adf_to_markdown(markdown_to_adf(again)) == again
    assert markdown_to_adf(again) == doc


@pytest.mark.parametrize(
    "markdown",
    [
        "```\n```x\n````\n````",  # a fence holding a fence
        "`` a`b ``",  # a backtick in inline code
        "[x](http://a/b_(c))",  # ) in a link URL
        "~~~py\nx\n~~~",  # tilde fence
        "Title\n=====",  # setext heading
        "__strong__ and _em_",
        "<https://ex.com/a> and https://ex.com/b and a@b.co",
        "- a\n\n- b\n\n  more",  # loose list
        "- \n- x",  # empty list item
        "**`c`** and *`d`*",  # code with strong/em: ADF allows neither
        "> > nested",
        "> # heading in a quote",
        "- # heading in a list item",
        "1. x\n\n   | a |\n   |---|\n   | 1 |\n2. y",  # a table in a list item
        "> ---",  # a rule in a quote
        "- [ ] todo\n- [x] done\n  - [ ] nested\n- plain",
        "- [ ]",
        "| a | b |\n|:-:|--:|\n| `x\\|y` | 2<br>3 |",
        "![img *alt*](http://x/i.png)",
        "line  \nbreak\\\nagain",
        "***both*** and ~~gone~~ and <u>under</u> <sub>2</sub> <sup>3</sup>",
        "<div>\nraw *html*\n</div>",
        "text <span>inline</span> &amp; &copy;",
        "    indented code",
        "1) one\n2) two\n\n7. seven",
        "* * *\n___",
        "# \n\n#",
        "[ref]\n\n[ref]: http://x",
        "<!--adf:panel-->\nno panelType\n<!--/adf:panel-->",
        '<!--adf:panel {"attrs":{"panelType":"info"}}-->\n# ok\n| a |\n|---|\n<!--/adf:panel-->',
        '<!--adf {"type":"mention"}-->',
        '<!--adf {"type":"nonsense","attrs":{}}-->',
        "<!--adf:listItem-->\nx\n<!--/adf:listItem-->",
        "<!--/adf:table-->",
        'x <adf-node data=\'{"type":"mention"}\'>@x</adf-node> y',
        'x <adf-mark data=\'{"type":"strong"}\'>unclosed',
        "a\u0000b",
        "\ttab start",
        "&#0; &#10; &#x1F600;",
        "- a\n    - b\n        - c\n            - d",
    ],
)
def test_markdown_people_write_gives_valid_adf(markdown) -> None:
    doc = markdown_to_adf(markdown)
    assert schema_errors(doc) == []
    again = adf_to_markdown(doc)
    assert markdown_to_adf(again) == doc


def test_markdown_reshapes_what_adf_cannot_hold() -> None:
    doc = markdown_to_adf("> > nested\n> # heading\n\n- # item heading\n- \n\n**`code`**")
    quote, items, para = doc["content"]
    assert [b["type"] for b in quote["content"]] == ["paragraph", "paragraph"]
    assert items["content"][0]["content"][0]["type"] == "paragraph"
    assert items["content"][1]["content"] == [{"type": "paragraph"}]
    assert para["content"] == [{"type": "text", "text": "code", "marks": [{"type": "code"}]}]
    lifted = markdown_to_adf("1. x\n\n   ---\n2. y")["content"]
    assert [b["type"] for b in lifted] == ["orderedList", "rule"]
