"""Cross-check: requests our validator accepted are also accepted by openapi-core.

The per-request fixture uses the small validator in ``tests/fakes/openapi.py`` (fast, loads
the Jira document once); this test replays one scenario per connector through openapi-core,
the reference implementation, so the two cannot silently disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from integrations.tickets.clickup import ClickUpConnector, ClickUpFilter
from integrations.tickets.http import http_retry_policy
from integrations.tickets.jira import JiraConnector
from integrations.tickets.testing import (
    FakeClickUp,
    FakeJira,
    clickup_validator,
    jira_validator,
    validating,
)

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")


def _recording(fake, validator, sent: list[httpx.Request]):
    handler = validating(fake, validator)

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record))


def _replay(api: OpenAPI, sent: list[httpx.Request]) -> None:
    for request in sent:
        url = urlsplit(str(request.url))
        mock = MockRequest(
            f"{url.scheme}://{url.netloc}",
            request.method.lower(),
            url.path,
            args=dict(request.url.params.multi_items()),
            headers=dict(request.headers),
            data=request.content.decode() or None,
            content_type=request.headers.get("content-type", "application/json"),
        )
        api.validate_request(mock)


def test_jira_requests_pass_openapi_core() -> None:
    fake = FakeJira()
    issue = fake.add_issue("a", description="text")
    sent: list[httpx.Request] = []
    jira = JiraConnector(
        "https://your-domain.atlassian.net",
        "ada@example.com",
        "jira-token",
        "PRJ",
        "Task",
        client=_recording(fake, jira_validator(), sent),
        retry=http_retry_policy(sleep=lambda s: None),
    )
    jira.read_attributes()
    jira.read_tasks(updated_since=datetime(2024, 1, 1, tzinfo=UTC), fields=["summary"])
    results = jira.write_tasks(
        [{"id": issue, "fields": {"summary": "b", "description": "**d**", "status": "Done"}}]
    )
    assert results[0].status == "updated"
    created = jira.create_tasks([{"fields": {"summary": "c"}}, {"fields": {"summary": "d"}}])
    created += jira.create_tasks([{"fields": {"summary": "e", "description": "*x*"}}])
    assert [r.status for r in created] == ["created"] * 3
    jira.add_comment(issue, "A *comment*")
    assert jira.read_comments(issue)[0].body == "A *comment*"
    jira.search('summary ~ "c" ORDER BY key DESC')
    jira.scan_ids()
    assert len(sent) >= 12
    _replay(OpenAPI.from_dict(jira_validator().document), sent)


def test_clickup_requests_pass_openapi_core() -> None:
    fake = FakeClickUp()
    task = fake.add_task("a")
    sent: list[httpx.Request] = []
    client = _recording(fake, clickup_validator(), sent)
    retry = http_retry_policy(sleep=lambda s: None)
    listed = ClickUpConnector("pk_test", "900", "901", client=client, retry=retry)
    listed.read_attributes()
    listed.read_tasks(updated_since=datetime(2024, 1, 1, tzinfo=UTC))
    ClickUpConnector("pk_test", "900", client=client, retry=retry).read_tasks()
    results = listed.write_tasks([{"id": task, "name": "b", "Severity": "High", "Budget": 2}])
    assert results[0].status == "updated"
    cleared = listed.write_tasks([{"id": task, "Budget": None, "priority": None}])
    assert cleared[0].status in ("updated", "unchanged")
    (created,) = listed.create_tasks([{"name": "c", "Severity": "Low", "priority": 3}])
    assert created.status == "created"
    listed.add_comment(task, "hello")
    assert [c.body for c in listed.read_comments(task)] == ["hello"]
    filtered = ClickUpConnector(
        "pk_test", "900", client=client, retry=retry,
        filters=ClickUpFilter(statuses=["to do"], tags=["x"], assignees=["1"]),
    )  # fmt: skip
    filtered.read_tasks()
    assert len(sent) >= 12
    _replay(OpenAPI.from_dict(clickup_validator().document), sent)
