"""ClickUp: filters, creating, comments, clearing values, custom task ids; every request
(and the answers the description describes consistently) checked against the v2 document."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from integrations.tickets.clickup import ClickUpConnector, ClickUpFilter
from integrations.tickets.errors import InvalidRequest
from integrations.tickets.http import RetryPolicy
from integrations.tickets.testing import FakeClickUp


def make(client: httpx.Client, retry: RetryPolicy, list_id: str | None = "901", **kw):
    return ClickUpConnector("pk_test", "900", list_id, client=client, retry=retry, **kw)


def test_filters_on_list_and_team_reads(fake_clickup, clickup_client, retry) -> None:
    a = fake_clickup.add_task("a", status="in progress", tags=["api"], assignees=[7])
    fake_clickup.add_task("b", status="to do", tags=["ui"])
    c = fake_clickup.add_task("c", status="complete", tags=["api"], assignees=[7])
    old = fake_clickup.add_task("archived", archived=True, tags=["api"])
    for list_id in ("901", None):
        connector = make(clickup_client, retry, list_id=list_id)
        found = connector.search(ClickUpFilter(tags=["api"], assignees=["7"]))
        assert [t["id"] for t in found] == [a, c]
        found = connector.search(ClickUpFilter(statuses=["In Progress", "complete"]))
        assert [t["id"] for t in found] == [a, c]
        assert connector.search(ClickUpFilter(tags=["api"], include_closed=False)) == [
            fake_clickup.tasks[a]
        ]
    archived = make(clickup_client, retry).search(ClickUpFilter(archived=True))
    assert [t["id"] for t in archived] == [old]
    names: dict[str, set[str]] = {}
    for request in fake_clickup.requests:
        names.setdefault(request.url.path, set()).update(request.url.params.keys())
    assert "tags[]" in names["/api/v2/team/900/task"] and "tags" in names["/api/v2/list/901/task"]


def test_date_and_custom_field_filters(fake_clickup, clickup_client, retry) -> None:
    a = fake_clickup.add_task("a", **{"cf-severity": 1})
    fake_clickup.add_task("b", **{"cf-severity": 0})
    created_a = int(fake_clickup.tasks[a]["date_created"])
    connector = make(clickup_client, retry)
    later = connector.search(ClickUpFilter(date_created_gt=created_a))
    assert [t["name"] for t in later] == ["b"]
    stamp = datetime.fromtimestamp((created_a + 1) / 1000, UTC)
    assert [t["name"] for t in connector.search(ClickUpFilter(date_created_lt=stamp))] == ["a"]
    rule = [{"field_id": "cf-severity", "operator": "=", "value": 1}]
    assert [t["id"] for t in connector.search(ClickUpFilter(custom_fields=rule))] == [a]


def test_default_filters_scope_every_read(fake_clickup, clickup_client, retry) -> None:
    a = fake_clickup.add_task("a", tags=["mine"])
    fake_clickup.add_task("b")
    connector = make(clickup_client, retry, filters=ClickUpFilter(tags=["mine"]))
    assert [t["id"] for t in connector.read_tasks()] == [a]
    assert connector.scan_ids() == {a}


def test_create_tasks(fake_clickup, clickup_client, retry) -> None:
    results = make(clickup_client, retry).create_tasks(
        [
            {"name": "New", "description": "With *md*", "priority": 2,
             "due_date": 1_700_000_000_000, "status": "in progress", "Severity": "High",
             "Budget": 3.5, "Nope": 1},
            {"name": ""},
            {"name": "Second", "priority": 9},
        ]
    )  # fmt: skip
    first, empty, second = results
    assert first.status == "created" and first.rejected == {
        "Nope": "matches no core or custom ClickUp field"
    }
    task = fake_clickup.tasks[first.task_id]
    assert task["markdown_description"] == "With *md*" and task["priority"]["id"] == "2"
    assert task["status"]["status"] == "in progress" and task["due_date"] == "1700000000000"
    assert fake_clickup.custom_value(first.task_id, "cf-severity") == 1
    assert fake_clickup.custom_value(first.task_id, "cf-budget") == 3.5
    assert empty.status == "failed" and "name" in (empty.error or "")
    assert second.status == "created" and "priority" in second.rejected
    with pytest.raises(InvalidRequest, match="list_id"):
        make(clickup_client, retry, list_id=None).create_tasks([{"name": "x"}])


def test_comments_read_and_add(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a")
    connector = make(clickup_client, retry)
    for n in range(60):
        connector.add_comment(t, f"note {n}")
    comments = connector.read_comments(t)
    assert [c.body for c in comments] == [f"note {n}" for n in range(60)]
    assert comments[0].author == "Ada Lovelace" and comments[0].created is not None
    pages = [r for r in fake_clickup.requests if r.method == "GET" and "comment" in r.url.path]
    assert len(pages) == 3 and "start_id" in pages[1].url.params


def test_clearing_priority_dates_and_custom_values(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a", **{"cf-budget": 5, "cf-severity": 1, "cf-areas": ["lbl-ui"]})
    connector = make(clickup_client, retry)
    connector.write_tasks([{"id": t, "priority": 1, "due_date": 1_700_000_000_000}])
    assert fake_clickup.tasks[t]["priority"]["id"] == "1"
    (result,) = connector.write_tasks(
        [{"id": t, "priority": None, "due_date": None, "Budget": None, "Severity": "",
          "Areas": []}]
    )  # fmt: skip
    assert result.status == "updated" and result.ok
    task = fake_clickup.tasks[t]
    assert task["priority"] is None and task["due_date"] is None
    assert [fake_clickup.custom_value(t, f) for f in ("cf-budget", "cf-severity", "cf-areas")] == [
        None,
        None,
        None,
    ]
    deletes = [r.url.path for r in fake_clickup.requests if r.method == "DELETE"]
    assert sorted(deletes) == [
        f"/api/v2/task/{t}/field/{f}" for f in ("cf-areas", "cf-budget", "cf-severity")
    ]
    (again,) = connector.write_tasks([{"id": t, "priority": None, "Budget": None}])
    assert again.status == "unchanged"


def test_custom_task_ids(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a", custom_id="OPS-7")
    connector = make(clickup_client, retry, custom_task_ids=True)
    assert connector.task_id(fake_clickup.tasks[t]) == "OPS-7"
    (result,) = connector.write_tasks([{"id": "OPS-7", "name": "b", "Budget": 2}])
    assert result.status == "updated" and fake_clickup.tasks[t]["name"] == "b"
    connector.add_comment("OPS-7", "hello")
    assert [c.body for c in connector.read_comments("OPS-7")] == ["hello"]
    addressed = [r for r in fake_clickup.requests if "/task/OPS-7" in r.url.path]
    assert addressed and all(
        r.url.params.get("custom_task_ids") == "true" and r.url.params.get("team_id") == "900"
        for r in addressed
    )


def test_wrong_wanted_values_are_refused_by_field(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a")
    (result,) = make(clickup_client, retry).write_tasks(
        [{"id": t, "due_date": "next week", "priority": "urgent!", "assignees": ["ada"],
          "Budget": "lots", "name": "ok"}]
    )  # fmt: skip
    assert result.status == "updated" and set(result.changes) == {"name"}
    assert set(result.rejected) == {"due_date", "priority", "assignees", "Budget"}
    assert "next week" in result.rejected["due_date"]


def test_unreadable_remote_values_are_overwritten_not_fatal(
    fake_clickup, clickup_client, retry
) -> None:
    t = fake_clickup.add_task("a")
    fake_clickup.tasks[t]["priority"] = {"id": "high-ish", "priority": "?"}
    fake_clickup.tasks[t]["due_date"] = "soon"
    (result,) = make(clickup_client, retry).write_tasks(
        [{"id": t, "priority": 2, "due_date": 1_700_000_000_000}]
    )
    assert result.status == "updated"
    assert fake_clickup.tasks[t]["priority"]["id"] == "2"


@pytest.mark.parametrize("validate", [True, False])
def test_the_fake_as_a_transport(validate, retry) -> None:
    fake = FakeClickUp()
    t = fake.add_task("a")
    client = httpx.Client(transport=fake.transport(validate=validate))
    assert [x["id"] for x in make(client, retry).read_tasks()] == [t]
