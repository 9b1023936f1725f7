"""ADF <-> Markdown, including documents taken from the Jira spec's own examples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.tickets.adf import adf_to_markdown, markdown_to_adf, text_to_adf
from integrations.tickets.testing.openapi import JIRA_SPEC


def _spec_documents() -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, str) and '"type":"doc"' in node:
            try:
                walk(json.loads(node))
            except ValueError:
                return
        elif isinstance(node, dict):
            if node.get("type") == "doc" and "content" in node:
                found[json.dumps(node, sort_keys=True)] = node
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(JIRA_SPEC.read_text()))
    return list(found.values())


SPEC_DOCS = _spec_documents()


def test_spec_examples_were_found() -> None:
    assert len(SPEC_DOCS) >= 10


@pytest.mark.parametrize("doc", SPEC_DOCS, ids=lambda d: adf_to_markdown(d)[:30])
def test_spec_documents_round_trip(doc: dict[str, Any]) -> None:
    markdown = adf_to_markdown(doc)
    assert markdown.strip()
    assert markdown_to_adf(markdown) == doc


RICH = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Plan"}]},
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Fix "},
                {"type": "text", "text": "now", "marks": [{"type": "strong"}]},
                {"type": "text", "text": ", "},
                {"type": "text", "text": "maybe", "marks": [{"type": "em"}]},
                {"type": "text", "text": " see "},
                {
                    "type": "text",
                    "text": "docs",
                    "marks": [{"type": "link", "attrs": {"href": "https://ex.com/d"}}],
                },
                {"type": "text", "text": " and "},
                {"type": "text", "text": "x = 1", "marks": [{"type": "code"}]},
                {"type": "text", "text": " "},
                {"type": "text", "text": "old", "marks": [{"type": "strike"}]},
                {"type": "hardBreak"},
                {"type": "text", "text": "next line with a * star"},
            ],
        },
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "one"}]},
                        {
                            "type": "orderedList",
                            "attrs": {"order": 1},
                            "content": [
                                {
                                    "type": "listItem",
                                    "content": [
                                        {
                                            "type": "paragraph",
                                            "content": [{"type": "text", "text": "a"}],
                                        }
                                    ],
                                },
                                {
                                    "type": "listItem",
                                    "content": [
                                        {
                                            "type": "paragraph",
                                            "content": [{"type": "text", "text": "b"}],
                                        }
                                    ],
                                },
                            ],
                        },
                    ],
                },
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "two"}]}
                    ],
                },
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [{"type": "text", "text": "print('hi')\n# not a heading"}],
        },
        {
            "type": "blockquote",
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "quoted"}]}],
        },
        {"type": "rule"},
    ],
}


def test_rich_document_round_trips() -> None:
    markdown = adf_to_markdown(RICH)
    assert "## Plan" in markdown
    assert "**now**" in markdown and "*maybe*" in markdown and "~~old~~" in markdown
    assert "[docs](https://ex.com/d)" in markdown and "`x = 1`" in markdown
    assert "- one\n  1. a\n  2. b\n- two" in markdown
    assert "```python\nprint('hi')\n# not a heading\n```" in markdown
    assert markdown_to_adf(markdown) == RICH


def test_mentions_become_text() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "ping "},
                    {"type": "mention", "attrs": {"id": "5b10", "text": "@Mia Krystof"}},
                    {"type": "emoji", "attrs": {"shortName": ":smile:"}},
                ],
            }
        ],
    }
    assert adf_to_markdown(doc) == "ping @Mia Krystof:smile:"


def test_markdown_paragraph_lines_join_and_ordered_start() -> None:
    doc = markdown_to_adf("first\nsame paragraph\n\n3. c\n4. d")
    assert doc["content"][0] == {
        "type": "paragraph",
        "content": [{"type": "text", "text": "first same paragraph"}],
    }
    assert doc["content"][1]["attrs"] == {"order": 3}
    assert len(doc["content"][1]["content"]) == 2


def test_text_that_looks_like_markdown_is_escaped() -> None:
    doc = text_to_adf("1. not a list\n# not a heading\nsnake_case *x*")
    assert markdown_to_adf(adf_to_markdown(doc)) == doc


def test_empty_inputs() -> None:
    assert adf_to_markdown(None) == ""
    assert markdown_to_adf("") == {"type": "doc", "version": 1, "content": []}
