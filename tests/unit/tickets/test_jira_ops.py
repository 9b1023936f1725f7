"""Jira: free-form JQL, bulk fetch, creating (single, bulk of 50), comments, lossless rich
text; every request and every answer checked against the v3 description."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from integrations.tickets.adf import adf_to_markdown, markdown_to_adf
from integrations.tickets.errors import RequestRejected
from integrations.tickets.http import RetryPolicy
from integrations.tickets.jira import JiraConnector
from integrations.tickets.testing import FakeJira, validating

CORPUS = Path(__file__).parent / "adf" / "corpus"


def make(client: httpx.Client, retry: RetryPolicy, **kwargs) -> JiraConnector:
    return JiraConnector(
        "https://ex.atlassian.net", "ada@example.com", "jira-token", "PRJ", "Task",
        client=client, retry=retry, **kwargs,
    )  # fmt: skip


def posts(fake: FakeJira, path: str) -> list[dict]:
    return [
        json.loads(r.content)
        for r in fake.requests
        if r.method == "POST" and r.url.path == f"/rest/api/3/{path}"
    ]


def test_any_jql(fake_jira, jira_client, retry) -> None:
    a = fake_jira.add_issue("Printer on fire", labels=["urgent"])
    fake_jira.add_issue("Coffee machine", labels=["later"])
    c = fake_jira.add_issue("Printer jam", status="Done", issue_type="Bug")
    jira = make(jira_client, retry)
    found = jira.search(
        'summary ~ "printer" AND (labels = urgent OR status = Done) ORDER BY key DESC'
    )
    assert [i["id"] for i in found] == [c, a]
    scoped = make(jira_client, retry, jql='project = PRJ AND status != "Done"')
    assert {i["id"] for i in scoped.read_tasks()} == {a, fake_jira.find("PRJ-2")["id"]}
    with pytest.raises(RequestRejected, match="Error in the JQL Query"):
        jira.search("assignee = currentUser(")


def test_bulkfetch_reads_known_keys_in_batches_of_100(fake_jira, jira_client, retry) -> None:
    ids = [fake_jira.add_issue(f"i{n}") for n in range(250)]
    keys = [fake_jira.issues[i]["key"] for i in ids]
    found = make(jira_client, retry).fetch([*keys, "PRJ-9999"], fields=["summary"])
    assert {found[k]["id"] for k in keys} == set(ids) and "PRJ-9999" not in found
    sent = posts(fake_jira, "issue/bulkfetch")
    assert [len(b["issueIdsOrKeys"]) for b in sent] == [100, 100, 51]


def test_an_empty_page_that_is_not_the_last_goes_on(retry, jira_spec) -> None:
    fake = FakeJira(empty_pages={2, 3})
    ids = [fake.add_issue(f"i{n}") for n in range(150)]
    client = httpx.Client(transport=httpx.MockTransport(validating(fake, jira_spec)))
    tasks = make(client, retry).read_tasks()
    assert {t["id"] for t in tasks} == set(ids)
    assert len(posts(fake, "search/jql")) == 4


def test_scan_ids_reads_5000_per_request(fake_jira, jira_client, retry) -> None:
    ids = [fake_jira.add_issue(f"i{n}") for n in range(120)]
    found = make(jira_client, retry).scan_ids()
    assert set(ids) <= found and "PRJ-1" in found
    (sent,) = posts(fake_jira, "search/jql")
    assert sent["fields"] == ["key"] and sent["maxResults"] == 5000


def test_create_one(fake_jira, jira_client, retry) -> None:
    (result,) = make(jira_client, retry).create_tasks(
        [{"fields": {"summary": "New", "description": "With *style*", "Budget": 3,
                     "status": "In Progress"}}]
    )  # fmt: skip
    assert result.status == "created" and result.key == "PRJ-1"
    issue = fake_jira.issues[result.task_id]
    assert issue["fields"]["description"] == markdown_to_adf("With *style*")
    assert issue["fields"]["customfield_10020"] == 3
    assert issue["fields"]["status"]["name"] == "In Progress"  # by a transition
    (sent,) = posts(fake_jira, "issue")
    assert sent["fields"]["project"] == {"key": "PRJ"} and sent["fields"]["issuetype"] == {
        "name": "Task"
    }


def test_create_in_bulk_50_per_request_failures_alone(fake_jira, jira_client, retry) -> None:
    tasks = [{"fields": {"summary": f"t{n}"}} for n in range(120)]
    tasks[7] = {"fields": {"summary": "x" * 300}}  # Jira refuses this one
    tasks[60] = {"fields": {"summary": ""}}  # refused before sending
    results = make(jira_client, retry).create_tasks(tasks)
    assert [len(b["issueUpdates"]) for b in posts(fake_jira, "issue/bulk")] == [50, 50, 19]
    assert [r.index for r in results] == list(range(120))
    failed = {r.index: r.error for r in results if r.status == "failed"}
    assert set(failed) == {7, 60}
    assert "Summary must be less than 255" in failed[7] and "summary" in failed[60]
    created = [r for r in results if r.status == "created"]
    assert len(created) == 118 and len(fake_jira.issues) == 118
    assert all(fake_jira.issues[r.task_id]["key"] == r.key for r in created)
    assert fake_jira.issues[results[8].task_id]["fields"]["summary"] == "t8"


def test_a_bulk_where_every_element_fails_reports_each(fake_jira, jira_client, retry) -> None:
    results = make(jira_client, retry).create_tasks(
        [{"fields": {"summary": "a", "Budget": "x", "nonsense": 1}},
         {"fields": {"summary": "b" * 256, "environment": "plain"}}]
    )  # fmt: skip
    assert [r.status for r in results] == ["created", "failed"]
    assert results[0].rejected == {"nonsense": "unknown Jira field"}
    results = make(jira_client, retry).create_tasks(
        [{"fields": {"summary": "y" * 300}}, {"fields": {"summary": "z" * 300}}]
    )
    assert [r.status for r in results] == ["failed", "failed"]
    assert all("255" in (r.error or "") for r in results)


def test_dry_run_creates_nothing(fake_jira, jira_client, retry) -> None:
    results = make(jira_client, retry).create_tasks([{"fields": {"summary": "a"}}], dry_run=True)
    assert [r.status for r in results] == ["planned"] and not fake_jira.issues


def test_comments_read_and_add(fake_jira, jira_client, retry) -> None:
    issue = fake_jira.add_issue("a")
    jira = make(jira_client, retry)
    added = [jira.add_comment(issue, f"Comment **{n}**") for n in range(130)]
    assert added[0].body == "Comment **0**" and added[0].author == "Ada Lovelace"
    comments = jira.read_comments(fake_jira.issues[issue]["key"])
    assert [c.body for c in comments] == [f"Comment **{n}**" for n in range(130)]
    starts = [r.url.params["startAt"] for r in fake_jira.requests if r.method == "GET"]
    assert starts == ["0", "100"]
    stored = fake_jira.comments[issue][0]["body"]
    assert stored == markdown_to_adf("Comment **0**")


def test_an_unchanged_export_is_never_written(fake_jira, jira_client, retry) -> None:
    document = json.loads((CORPUS / "atlas-node_media.json").read_text())
    issue = fake_jira.add_issue("a", description=document)
    exported = adf_to_markdown(document)
    (result,) = make(jira_client, retry).write_tasks(
        [{"id": issue, "fields": {"description": exported}}]
    )
    assert result.status == "unchanged"
    assert not [r for r in fake_jira.requests if r.method == "PUT"]


def test_an_edit_of_the_export_keeps_the_images(fake_jira, jira_client, retry) -> None:
    document = json.loads((CORPUS / "atlas-node_media.json").read_text())
    issue = fake_jira.add_issue("a", description=document)
    edited = adf_to_markdown(document).replace("This is an image", "This is a picture", 1)
    (result,) = make(jira_client, retry).write_tasks(
        [{"id": issue, "fields": {"description": edited}}]
    )
    assert result.status == "updated"
    stored = fake_jira.issues[issue]["fields"]["description"]
    media = [n for n in json.dumps(stored).split('"type": "media"')][1:]
    assert len(media) == 6 and "This is a picture" in json.dumps(stored)


def test_writing_less_than_the_field_holds_is_a_conflict(fake_jira, jira_client, retry) -> None:
    document = json.loads((CORPUS / "atlas-node_media.json").read_text())
    issue = fake_jira.add_issue("a", description=document)
    jira = make(jira_client, retry)
    (result,) = jira.write_tasks([{"id": issue, "fields": {"description": "Just text now"}}])
    assert result.status == "conflict" and not result.ok
    assert any("contentId-653558733" in node for node in result.lossy["description"])
    assert "force=True" in (result.error or "")
    assert fake_jira.issues[issue]["fields"]["description"] == document
    (forced,) = jira.write_tasks(
        [{"id": issue, "fields": {"description": "Just text now"}}], force=True
    )
    assert forced.status == "updated"
    assert fake_jira.issues[issue]["fields"]["description"] == markdown_to_adf("Just text now")
