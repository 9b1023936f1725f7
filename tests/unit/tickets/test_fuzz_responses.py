"""Every response parser, fed answers generated from the descriptions' own response schemas
(and, ``hostile``, with values of the wrong type): the result is data or an
IntegrationError (UnexpectedResponse naming the field), never a raw ValueError, TypeError,
KeyError or AttributeError."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from integrations.errors import IntegrationError
from integrations.tickets.clickup import ClickUpConnector
from integrations.tickets.errors import UnexpectedResponse
from integrations.tickets.http import RetryPolicy
from integrations.tickets.interface import TicketInterface
from integrations.tickets.jira import JiraConnector
from integrations.tickets.mapping import TicketMapping
from integrations.tickets.testing import FakeClickUp, FakeJira, clickup_validator, jira_validator
from tests.unit.tickets.spec_strategies import answers

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NO_WAIT = RetryPolicy(sleep=lambda s: None, max_attempts=1)


def response_schema(document: dict[str, Any], method: str, template: str, status: str) -> Any:
    described = document["paths"][template][method]["responses"][status]
    while "$ref" in described:
        node: Any = document
        for part in described["$ref"].lstrip("#/").split("/"):
            node = node[part]
        described = node
    return described["content"]["application/json"]["schema"]


def served(fake: Callable[[httpx.Request], httpx.Response], method: str, path: str, status: int):
    """A client: the fake answers, except ``method path`` which answers what ``body`` holds."""
    box: dict[str, Any] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == method and re.fullmatch(path, request.url.path):
            return httpx.Response(status, json=box["body"])
        return fake(request)

    return box, httpx.Client(transport=httpx.MockTransport(handle))


def survives(call: Callable[[], Any]) -> None:
    try:
        call()
    except UnexpectedResponse as exc:
        assert (exc.field and exc.field in str(exc)) or exc.field == "(body)"
    except IntegrationError:
        pass


JIRA_MAPPING = TicketMapping.from_data(
    {
        "key_field": "key",
        "fields": {
            "key": {"path": "key", "direction": "read"},
            "summary": {"path": "fields.summary"},
            "body": {"path": "fields.description", "transform": "adf_to_markdown"},
            "labels": {"path": "fields.labels", "transform": "join_list"},
            "budget": {"path": "fields.customfield_10020", "transform": "to_float"},
            "state": {"path": "fields.status.name"},
        },
    }
)


def jira(client: httpx.Client) -> JiraConnector:
    return JiraConnector(
        "https://ex.atlassian.net", "ada@example.com", "jira-token", "PRJ", "Task",
        client=client, retry=NO_WAIT, max_pages=5,
    )  # fmt: skip


def _jira_writes(connector: JiraConnector) -> None:
    connector.write_tasks(
        [{"key": "PRJ-1", "fields": {"summary": "x", "description": "*y*", "status": "Done"}}]
    )


JIRA_CASES = [
    ("POST", "/rest/api/3/search/jql", "200", lambda j: j.search("project = PRJ")),
    ("POST", "/rest/api/3/search/jql", "200", lambda j: j.read_attributes()),
    ("POST", "/rest/api/3/search/jql", "200", lambda j: j.scan_ids()),
    (
        "POST",
        "/rest/api/3/search/jql",
        "200",
        lambda j: [j.updated_at(t) for t in j.read_tasks()],
    ),
    (
        "POST",
        "/rest/api/3/search/jql",
        "200",
        lambda j: TicketInterface(j, JIRA_MAPPING).export_tickets(),
    ),
    ("GET", "/rest/api/3/field", "200", lambda j: j.field_map(refresh=True)),
    ("GET", "/rest/api/3/myself", "200", lambda j: j.user_zone()),
    ("POST", "/rest/api/3/issue/bulkfetch", "200", lambda j: j.fetch(["PRJ-1"])),
    ("POST", "/rest/api/3/issue/bulkfetch", "200", _jira_writes),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/comment", "200", lambda j: j.read_comments("PRJ-1")),
    (
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/comment",
        "201",
        lambda j: j.add_comment("PRJ-1", "x"),
    ),
    ("POST", "/rest/api/3/issue", "201", lambda j: j.create_tasks([{"fields": {"summary": "a"}}])),
    (
        "POST",
        "/rest/api/3/issue/bulk",
        "201",
        lambda j: j.create_tasks([{"fields": {"summary": "a"}}, {"fields": {"summary": "b"}}]),
    ),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/transitions", "200", _jira_writes),
]


@pytest.mark.parametrize("hostile", [False, True], ids=["as-described", "hostile"])
@pytest.mark.parametrize(
    ("method", "template", "status", "call"),
    JIRA_CASES,
    ids=[f"{m} {t} #{n}" for n, (m, t, _, _) in enumerate(JIRA_CASES)],
)
def test_jira_parsers(method, template, status, call, hostile) -> None:
    document = jira_validator().document
    schema = response_schema(document, method.lower(), template, status)
    fake = FakeJira()
    fake.add_issue("a")
    path = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    box, client = served(fake, method, path, int(status))

    @FUZZ
    @given(answers(document, schema, hostile=hostile))
    def check(body: Any) -> None:
        box["body"] = body
        survives(lambda: call(jira(client)))

    check()


CLICKUP_MAPPING = TicketMapping.from_data(
    {
        "key_field": "ticket_id",
        "fields": {
            "ticket_id": {"path": "id", "direction": "read"},
            "title": {"path": "name"},
            "due": {"path": "due_date", "transform": "ms_epoch_to_iso"},
            "severity": {
                "path": "custom_fields[name=Severity].value",
                "transform": "option_id_to_name",
            },
            "assignees": {"path": "assignees", "transform": "join_list"},
        },
    }
)


def clickup(client: httpx.Client, list_id: str | None = "901") -> ClickUpConnector:
    return ClickUpConnector("pk_test", "900", list_id, client=client, retry=NO_WAIT, max_pages=5)


def _clickup_reads(connector: ClickUpConnector) -> None:
    for task in connector.read_tasks():
        connector.updated_at(task)
    TicketInterface(connector, CLICKUP_MAPPING).export_tickets()


def _clickup_writes(connector: ClickUpConnector) -> None:
    connector.write_tasks(
        [{"id": "t00001", "name": "b", "priority": 2, "due_date": 1, "assignees": [1],
          "Budget": 3, "Severity": "High", "Areas": ["API"]}]
    )  # fmt: skip


CLICKUP_CASES = [
    ("GET", "/v2/list/{list_id}/task", "200", _clickup_reads),
    ("GET", "/v2/list/{list_id}/task", "200", lambda c: c.scan_ids()),
    ("GET", "/v2/team/{team_Id}/task", "200", lambda c: clickup(c.http.client, None).read_tasks()),
    ("GET", "/v2/list/{list_id}/field", "200", lambda c: c.read_attributes()),
    ("GET", "/v2/list/{list_id}/field", "200", _clickup_writes),
    ("GET", "/v2/task/{task_id}", "200", _clickup_writes),
    ("GET", "/v2/task/{task_id}", "200", lambda c: c.fetch_tasks(["t00001"])),
    ("GET", "/v2/task/{task_id}/comment", "200", lambda c: c.read_comments("t00001")),
    ("POST", "/v2/task/{task_id}/comment", "200", lambda c: c.add_comment("t00001", "x")),
    ("POST", "/v2/list/{list_id}/task", "200", lambda c: c.create_tasks([{"name": "a"}])),
]


@pytest.mark.parametrize("hostile", [False, True], ids=["as-described", "hostile"])
@pytest.mark.parametrize(
    ("method", "template", "status", "call"),
    CLICKUP_CASES,
    ids=[f"{m} {t} #{n}" for n, (m, t, _, _) in enumerate(CLICKUP_CASES)],
)
def test_clickup_parsers(method, template, status, call, hostile) -> None:
    document = clickup_validator().document
    schema = response_schema(document, method.lower(), template, status)
    fake = FakeClickUp()
    fake.add_task("a")
    path = "/api" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    box, client = served(fake, method, path, int(status))

    @FUZZ
    @given(answers(document, schema, hostile=hostile))
    def check(body: Any) -> None:
        box["body"] = body
        survives(lambda: call(clickup(client)))

    check()


def test_a_page_without_issues_and_not_last_goes_on() -> None:
    """``isLast: false``, no issues, a token: paging continues (until a real last page)."""
    pages = iter(
        [
            {"issues": [], "isLast": False, "nextPageToken": "p2"},
            {"issues": [{"id": "1", "key": "PRJ-1", "fields": {}}], "isLast": True},
        ]
    )
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=next(pages)))
    )
    assert [i["id"] for i in jira(client).search("project = PRJ")] == ["1"]
