"""JiraConnector against the stateful fake; every request validated against the v3 document."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from integrations.tickets.adf import markdown_to_adf
from integrations.tickets.errors import AuthenticationFailed, PaginationError
from integrations.tickets.http import RetryPolicy
from integrations.tickets.jira import JiraConnector
from integrations.tickets.testing import (
    FakeJira,
    SpecViolation,
    Throttle,
    validating,
)


def make(client: httpx.Client, retry: RetryPolicy, **kwargs) -> JiraConnector:
    return JiraConnector(
        "https://ex.atlassian.net",
        "ada@example.com",
        "jira-token",
        "PRJ",
        "Task",
        client=client,
        retry=retry,
        **kwargs,
    )


def bodies(fake: FakeJira, path: str) -> list[dict]:
    return [json.loads(r.content) for r in fake.requests if r.url.path == path]


def test_read_attributes_marks_rich_text(fake_jira, jira_client, retry) -> None:
    fake_jira.add_issue("one")
    fields = {f.id: f for f in make(jira_client, retry).read_attributes()}
    assert fields["description"].rich_text and fields["environment"].rich_text
    assert fields["customfield_10010"].rich_text  # textarea custom field
    assert not fields["summary"].rich_text and not fields["customfield_10011"].rich_text
    assert fields["customfield_10020"].custom and fields["customfield_10020"].type == "number"


def test_read_pages_until_last_page_without_token(fake_jira, jira_client, retry) -> None:
    for n in range(250):
        fake_jira.add_issue(f"issue {n}")
    fake_jira.add_issue("a bug", issue_type="Bug")
    tasks = make(jira_client, retry).read_tasks()
    assert len(tasks) == 250 and len({t["id"] for t in tasks}) == 250
    sent = bodies(fake_jira, "/rest/api/3/search/jql")
    assert len(sent) == 3
    assert sent[0]["jql"] == '(project = "PRJ" AND issuetype = "Task") ORDER BY updated ASC, id ASC'
    assert all(b["fields"] == ["*all"] for b in sent)
    assert "nextPageToken" not in sent[0] and sent[1]["nextPageToken"]


def test_limit_and_fields(fake_jira, jira_client, retry) -> None:
    for n in range(30):
        fake_jira.add_issue(f"issue {n}")
    tasks = make(jira_client, retry, page_size=20).read_tasks(limit=25, fields=["summary"])
    assert len(tasks) == 25
    assert set(tasks[0]["fields"]) == {"summary", "updated"}
    assert [b["maxResults"] for b in bodies(fake_jira, "/rest/api/3/search/jql")] == [20, 5]


def test_updated_since_goes_into_jql(fake_jira, jira_client, retry) -> None:
    fake_jira.add_issue("old")
    make(jira_client, retry).read_tasks(updated_since=datetime(2024, 1, 1, 9, 5, 33, tzinfo=UTC))
    assert (
        'AND updated >= "2024-01-01 09:05"' in bodies(fake_jira, "/rest/api/3/search/jql")[0]["jql"]
    )


def test_duplicates_across_pages_are_dropped(fake_jira, jira_client, retry) -> None:
    ids = [fake_jira.add_issue(f"issue {n}") for n in range(150)]
    # someone edits the first issue while we page: it moves to the end of ORDER BY updated
    fake_jira.on_page = lambda page: fake_jira.edit(ids[0], summary="edited") if page == 1 else None
    tasks = make(jira_client, retry).read_tasks()
    assert len(tasks) == 150
    assert next(t for t in tasks if t["id"] == ids[0])["fields"]["summary"] == "edited"


def test_repeated_token_stops_with_clear_error(retry, jira_spec) -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"issues": [{"id": "1", "fields": {}}], "nextPageToken": "same", "isLast": False},
        )

    client = httpx.Client(transport=httpx.MockTransport(loop))
    with pytest.raises(PaginationError, match="twice"):
        make(client, retry).read_tasks()


def test_page_cap(retry) -> None:
    counter = iter(range(10**6))

    def endless(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return httpx.Response(
            200, json={"issues": [{"id": str(n), "fields": {}}], "nextPageToken": f"t{n}"}
        )

    with pytest.raises(PaginationError, match="3 pages"):
        make(httpx.Client(transport=httpx.MockTransport(endless)), retry, max_pages=3).read_tasks()


def test_rate_limited_search_waits_as_asked(retry, sleeps, jira_spec) -> None:
    fake = FakeJira(throttle=Throttle(lambda n: 4 if n == 1 else None, clock=lambda: 0.0))
    fake.add_issue("x")
    client = httpx.Client(transport=httpx.MockTransport(validating(fake, jira_spec)))
    assert len(make(client, retry).read_tasks()) == 1
    assert sleeps.calls and sleeps.calls[0] >= 4


def test_write_sends_only_changed_fields(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("title", description="Some **text**", customfield_10020=5)
    results = make(jira_client, retry).write_tasks(
        [
            {
                "id": issue,
                "fields": {
                    "summary": "new title",
                    "description": "Some **text**",
                    "customfield_10020": 5,
                    "customfield_10010": "- crit 1\n- crit 2",
                    "customfield_10011": "Core *team*",
                },
            }
        ]
    )
    assert [r.status for r in results] == ["updated"]
    assert set(results[0].changes) == {"summary", "customfield_10010", "customfield_10011"}
    (put,) = bodies(fake_jira, f"/rest/api/3/issue/{issue}")
    assert put == {
        "fields": {
            "summary": "new title",
            "customfield_10010": markdown_to_adf("- crit 1\n- crit 2"),
            "customfield_10011": "Core *team*",  # single-line text: never ADF
        }
    }
    assert fake_jira.issues[issue]["fields"]["customfield_10010"]["type"] == "doc"


def test_unchanged_task_sends_nothing(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("same", description="text")
    result = make(jira_client, retry).write_tasks(
        [{"id": issue, "fields": {"summary": "same", "description": "text"}}]
    )
    assert result[0].status == "unchanged"
    assert not [r for r in fake_jira.requests if r.method == "PUT"]


def test_status_changes_through_transitions(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("t")
    result = make(jira_client, retry).write_tasks([{"id": issue, "fields": {"status": "done"}}])
    assert result[0].status == "updated"
    assert fake_jira.issues[issue]["fields"]["status"]["name"] == "Done"
    posts = [
        json.loads(r.content)
        for r in fake_jira.requests
        if r.method == "POST" and r.url.path.endswith("/transitions")
    ]
    assert posts == [{"transition": {"id": "31"}}]
    assert not [r for r in fake_jira.requests if r.method == "PUT"]


def test_unknown_status_fails_before_any_write(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("t")
    result = make(jira_client, retry).write_tasks(
        [{"id": issue, "fields": {"summary": "x", "status": "Shipped"}}]
    )
    assert result[0].status == "failed" and "Shipped" in (result[0].error or "")
    assert "In Progress" in (result[0].error or "")
    assert fake_jira.issues[issue]["fields"]["summary"] == "t"


def test_empty_summary_is_rejected_locally(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("t")
    result = make(jira_client, retry).write_tasks([{"id": issue, "fields": {"summary": ""}}])
    assert result[0].status == "failed" and "summary must not be empty" in (result[0].error or "")


def test_per_task_results_with_missing_and_unknown(fake_jira, jira_client, retry) -> None:
    a = fake_jira.add_issue("a")
    results = make(jira_client, retry).write_tasks(
        [
            {"id": a, "fields": {"summary": "A", "Sprint Goal": 3}},
            {"key": "PRJ-999", "fields": {"summary": "nope"}},
            {"fields": {"summary": "no id"}},
        ]
    )
    by_id = {r.task_id: r for r in results}
    assert by_id[a].status == "updated" and by_id[a].rejected == {
        "Sprint Goal": "unknown Jira field"
    }
    assert not by_id[a].ok
    assert by_id["PRJ-999"].status == "failed" and "not found" in (by_id["PRJ-999"].error or "")
    assert by_id["?"].status == "failed"


def test_field_names_resolve_to_ids(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("a")
    make(jira_client, retry).write_tasks([{"id": issue, "fields": {"budget": 12.5}}])
    assert fake_jira.issues[issue]["fields"]["customfield_10020"] == 12.5


def test_dry_run_returns_diff_and_writes_nothing(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("a")
    result = make(jira_client, retry).write_tasks(
        [{"id": issue, "fields": {"summary": "b", "status": "Done"}}], dry_run=True
    )
    assert result[0].status == "planned"
    assert result[0].changes["summary"].old == "a" and result[0].changes["summary"].new == "b"
    assert all(
        r.method == "GET" or r.url.path.endswith(("/search/jql", "/bulkfetch"))
        for r in fake_jira.requests
    )
    (result,) = make(jira_client, retry).write_tasks(
        [{"id": issue, "fields": {"status": "Shipped"}}], dry_run=True
    )
    assert result.status == "failed" and "no transition" in (result.error or "")
    assert fake_jira.issues[issue]["fields"]["summary"] == "a"


def test_same_issue_twice_is_one_write(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("a")
    key = fake_jira.issues[issue]["key"]
    results = make(jira_client, retry).write_tasks(
        [
            {"id": issue, "fields": {"summary": "first"}},
            {"id": issue, "fields": {"customfield_10020": 3}},
            {"id": issue, "fields": {"summary": "second"}},
        ]
    )
    assert len(results) == 1 and results[0].status == "updated"
    assert fake_jira.writes[issue] == 1
    assert fake_jira.issues[issue]["fields"]["summary"] == "second"
    by_key = make(jira_client, retry).write_tasks(
        [
            {"id": issue, "fields": {"summary": "by id"}},
            {"key": key, "fields": {"customfield_10020": 4}},
        ]
    )
    assert len(by_key) == 1 and fake_jira.writes[issue] == 2
    assert fake_jira.issues[issue]["fields"]["customfield_10020"] == 4


def test_concurrent_writes_cover_every_task(fake_jira, jira_client, retry) -> None:
    ids = [fake_jira.add_issue(f"t{n}") for n in range(40)]
    results = make(jira_client, retry, concurrency=4).write_tasks(
        [{"id": i, "fields": {"summary": f"new {i}"}} for i in ids]
    )
    assert [r.task_id for r in results] == ids
    assert all(r.status == "updated" for r in results)
    assert all(fake_jira.writes[i] == 1 for i in ids)


def test_a_key_that_does_not_exist_fails_alone(fake_jira, jira_client, retry) -> None:
    a = fake_jira.add_issue("a")
    results = make(jira_client, retry).write_tasks(
        [{"id": a, "fields": {"summary": "b"}}, {"id": "424242", "fields": {"summary": "c"}}]
    )
    assert [r.status for r in results] == ["updated", "failed"]


def test_bad_credentials(jira_client, retry) -> None:
    connector = JiraConnector(
        "https://ex.atlassian.net",
        "ada@example.com",
        "wrong",
        "PRJ",
        "Task",
        client=jira_client,
        retry=retry,
    )
    with pytest.raises(AuthenticationFailed, match="401"):
        connector.read_tasks()


def test_validator_rejects_what_the_spec_does_not_allow(jira_spec) -> None:
    bad = httpx.Request(
        "POST",
        "https://ex.atlassian.net/rest/api/3/search/jql",
        json={"jql": "x", "pageToken": "nope"},
    )
    with pytest.raises(SpecViolation, match="pageToken"):
        jira_spec.validate(bad)
    with pytest.raises(SpecViolation, match="undeclared query"):
        jira_spec.validate(httpx.Request("GET", "https://e/rest/api/3/field?start=1"))
    with pytest.raises(SpecViolation, match="no such operation"):
        jira_spec.validate(httpx.Request("PATCH", "https://e/rest/api/3/issue/1"))


def test_service_rejection_carries_jira_errors(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("a")
    (result,) = make(jira_client, retry).write_tasks(
        [{"id": issue, "fields": {"summary": "x" * 300}}]
    )
    assert result.status == "failed"
    assert "RequestRejected" in (result.error or "")
    assert "summary: Summary must be less than 255 characters." in (result.error or "")


def test_fake_put_ignores_status(fake_jira) -> None:
    issue = fake_jira.add_issue("a")
    response = fake_jira(
        httpx.Request(
            "PUT",
            f"https://ex.atlassian.net/rest/api/3/issue/{issue}",
            headers={"Authorization": fake_jira.auth},
            json={"fields": {"status": {"name": "Done"}, "summary": "b"}},
        )
    )
    assert response.status_code == 204
    assert fake_jira.issues[issue]["fields"]["status"]["name"] == "To Do"
    assert fake_jira.issues[issue]["fields"]["summary"] == "b"


def test_every_endpoint_used_is_validated(fake_jira, jira_spec, retry) -> None:
    spec = jira_spec.fresh()  # a fresh record of what was validated
    client = httpx.Client(transport=httpx.MockTransport(validating(fake_jira, spec)))
    issue = fake_jira.add_issue("a")
    jira = make(client, retry)
    jira.read_attributes()
    jira.read_tasks(updated_since=datetime(2024, 1, 1, tzinfo=UTC))
    jira.write_tasks(
        [{"id": issue, "fields": {"summary": "b", "description": "*d*", "status": "Done"}}]
    )
    assert set(spec.seen) == {
        ("GET", "/rest/api/3/field"),
        ("GET", "/rest/api/3/myself"),
        ("POST", "/rest/api/3/search/jql"),
        ("POST", "/rest/api/3/issue/bulkfetch"),
        ("PUT", "/rest/api/3/issue/{issueIdOrKey}"),
        ("GET", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
        ("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
    }


def test_updated_since_uses_the_users_time_zone(jira_spec, retry) -> None:
    fake = FakeJira(time_zone="America/New_York")
    client = httpx.Client(transport=httpx.MockTransport(validating(fake, jira_spec)))
    old = fake.add_issue("old")  # updated 2024-01-01 09:00:01 UTC
    fake.edit(old, summary="old")  # 09:00:02 UTC
    jira = make(client, retry)
    tasks = jira.read_tasks(updated_since=datetime(2024, 1, 1, 9, 0, 2, tzinfo=UTC))
    assert [t["id"] for t in tasks] == [old]
    jql = bodies(fake, "/rest/api/3/search/jql")[0]["jql"]
    assert 'updated >= "2024-01-01 04:00"' in jql  # 09:00 UTC is 04:00 in New York
    assert not jira.read_tasks(updated_since=datetime(2024, 1, 1, 9, 2, tzinfo=UTC))
