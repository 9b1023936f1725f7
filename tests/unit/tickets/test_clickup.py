"""ClickUpConnector against the stateful fake; every request validated against the v2 document."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from integrations.tickets.clickup import ClickUpConnector
from integrations.tickets.http import RetryPolicy
from integrations.tickets.testing import FakeClickUp, SpecViolation, validating


def make(
    client: httpx.Client, retry: RetryPolicy, list_id: str | None = "901", **kw
) -> ClickUpConnector:
    return ClickUpConnector("pk_test", "900", list_id, client=client, retry=retry, **kw)


def sent(fake: FakeClickUp, method: str, fragment: str = "") -> list[httpx.Request]:
    return [r for r in fake.requests if r.method == method and fragment in r.url.path]


def test_read_attributes_core_and_custom_with_options(fake_clickup, clickup_client, retry) -> None:
    fields = {f.name: f for f in make(clickup_client, retry).read_attributes()}
    assert {"name", "status", "description", "assignees", "due_date"} <= set(fields)
    assert fields["description"].rich_text
    assert fields["Severity"].custom and [o["name"] for o in fields["Severity"].options] == [
        "Low",
        "High",
    ]
    assert [o["label"] for o in fields["Areas"].options] == ["API", "UI"]


def test_core_only_without_list(fake_clickup, clickup_client, retry) -> None:
    fields = make(clickup_client, retry, list_id=None).read_attributes()
    assert not any(f.custom for f in fields)
    assert not fake_clickup.requests


def test_list_read_pages_until_last_page(fake_clickup, clickup_client, retry) -> None:
    for n in range(250):
        fake_clickup.add_task(f"t{n}", status="complete" if n % 50 == 0 else "to do")
    parent = next(iter(fake_clickup.tasks))
    fake_clickup.add_task("sub", parent=parent)
    tasks = make(clickup_client, retry).read_tasks()
    assert len(tasks) == 251  # closed tasks and subtasks included
    pages = sent(fake_clickup, "GET", "/list/901/task")
    assert [r.url.params["page"] for r in pages] == ["0", "1", "2"]
    first = pages[0].url.params
    assert first["subtasks"] == "true" and first["include_closed"] == "true"
    assert first["include_markdown_description"] == "true"


def test_exact_multiple_of_page_size_stops_on_last_page(
    fake_clickup, clickup_client, retry
) -> None:
    for n in range(200):
        fake_clickup.add_task(f"t{n}")
    assert len(make(clickup_client, retry).read_tasks()) == 200
    assert len(sent(fake_clickup, "GET", "/task")) == 2


def test_team_read_stops_on_short_page(fake_clickup, clickup_client, retry) -> None:
    for n in range(130):
        fake_clickup.add_task(f"t{n}")
    tasks = make(clickup_client, retry, list_id=None).read_tasks()
    assert len(tasks) == 130
    assert [r.url.path for r in fake_clickup.requests] == ["/api/v2/team/900/task"] * 2


def test_incremental_read(fake_clickup, clickup_client, retry) -> None:
    a = fake_clickup.add_task("a")
    fake_clickup.add_task("b")
    connector = make(clickup_client, retry)
    cutoff = connector.updated_at(fake_clickup.tasks["t00002"])
    fake_clickup.edit(a, name="a2")
    tasks = connector.read_tasks(updated_since=cutoff)
    # the task updated at the cursor itself is read again: nothing updated in that
    # millisecond after the last read is missed (date_updated_gt is strict)
    assert [t["id"] for t in tasks] == [a, "t00002"]
    assert sent(fake_clickup, "GET")[-1].url.params["date_updated_gt"] == str(
        int(cutoff.timestamp() * 1000) - 1
    )


def test_write_core_and_custom_fields(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a", description="old", **{"cf-budget": 5, "cf-severity": 0})
    results = make(clickup_client, retry).write_tasks(
        [
            {
                "id": t,
                "name": "b",
                "status": "In Progress",
                "description": "**new**",
                "assignees": [7],
                "due_date": 1_704_200_000_000,
                "custom_fields": [
                    {"name": "severity", "value": "High"},
                    {"id": "cf-budget", "value": 5},
                ],
                "Areas": ["UI", "api"],
            }
        ]
    )
    assert results[0].status == "updated", results[0]
    assert set(results[0].changes) == {
        "name",
        "status",
        "description",
        "assignees",
        "due_date",
        "Severity",
        "Areas",
    }
    (put,) = sent(fake_clickup, "PUT")
    assert json.loads(put.content) == {
        "name": "b",
        "status": "In Progress",
        "markdown_content": "**new**",
        "assignees": {"add": [7], "rem": []},
        "due_date": 1_704_200_000_000,
    }
    posts = {
        r.url.path.rsplit("/", 1)[1]: json.loads(r.content) for r in sent(fake_clickup, "POST")
    }
    assert posts == {
        "cf-severity": {"value": "opt-high"},
        "cf-areas": {"value": ["lbl-api", "lbl-ui"]},
    }
    assert fake_clickup.custom_value(t, "cf-severity") == 1  # read back as orderindex


def test_dropdown_read_back_as_orderindex_is_unchanged(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a", **{"cf-severity": 1})
    result = make(clickup_client, retry).write_tasks([{"id": t, "Severity": "high"}])
    assert result[0].status == "unchanged"
    assert not sent(fake_clickup, "POST")


def test_button_unknown_and_bad_option_are_reported(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a")
    (result,) = make(clickup_client, retry).write_tasks(
        [{"id": t, "name": "b", "Approve": True, "Mood": "happy", "Severity": "Critical"}]
    )
    assert result.status == "updated" and not result.ok
    assert result.rejected["Approve"] == "button fields are never written"
    assert "no core or custom" in result.rejected["Mood"]
    assert "'Critical' is not an option" in result.rejected["Severity"]
    assert not sent(fake_clickup, "POST")


def test_unknown_fields_appended_to_description(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a", description="Intro")
    connector = make(clickup_client, retry, unknown_fields="append_to_description")
    (result,) = connector.write_tasks([{"id": t, "Mood": "happy", "Region": "EU"}])
    assert result.ok and result.status == "updated"
    assert fake_clickup.tasks[t]["markdown_description"] == "Intro\n\nMood: happy\nRegion: EU"
    (again,) = connector.write_tasks([{"id": t, "Mood": "happy", "Region": "EU"}])
    assert again.status == "unchanged"


def test_dry_run_sends_no_write(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a")
    (result,) = make(clickup_client, retry).write_tasks(
        [{"id": t, "name": "b", "Budget": 3}], dry_run=True
    )
    assert result.status == "planned" and set(result.changes) == {"name", "Budget"}
    assert {r.method for r in fake_clickup.requests} == {"GET"}


def test_missing_task_fails_only_itself(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a")
    results = make(clickup_client, retry).write_tasks(
        [{"id": "nope", "name": "x"}, {"id": t, "name": "y"}, {"name": "no id"}]
    )
    assert [r.status for r in results] == ["failed", "failed", "updated"]
    assert "ITEM_015" in (results[1].error or "")


def test_concurrency_one_write_per_task(fake_clickup, clickup_client, retry) -> None:
    ids = [fake_clickup.add_task(f"t{n}") for n in range(30)]
    tasks = [{"id": i, "name": f"n{i}"} for i in ids] + [{"id": ids[0], "Budget": 9}]
    results = make(clickup_client, retry).write_tasks(tasks)
    assert len(results) == 30 and all(r.status == "updated" for r in results)
    assert max(fake_clickup.writes.values()) == 1
    assert fake_clickup.custom_value(ids[0], "cf-budget") == 9


def test_put_with_custom_fields_is_rejected_by_the_fake(fake_clickup) -> None:
    t = fake_clickup.add_task("a")
    response = fake_clickup(
        httpx.Request(
            "PUT",
            f"https://api.clickup.com/api/v2/task/{t}",
            headers={"Authorization": "pk_test"},
            json={"custom_fields": [{"id": "cf-budget"}]},
        )
    )
    assert response.status_code == 400 and response.json()["ECODE"] == "FIELD_033"


def test_spec_validator_knows_team_id_spelling(clickup_spec) -> None:
    clickup_spec.validate(httpx.Request("GET", "https://api.clickup.com/api/v2/team/9/task?page=0"))
    with pytest.raises(SpecViolation, match="undeclared"):
        clickup_spec.validate(
            httpx.Request("GET", "https://api.clickup.com/api/v2/team/9/task?list_id=1")
        )


def test_updated_at_parses_ms() -> None:
    connector = ClickUpConnector("pk", "1")
    assert connector.updated_at({"date_updated": "1704100000000"}) == datetime(
        2024, 1, 1, 9, 6, 40, tzinfo=UTC
    )


def test_every_endpoint_used_is_validated(fake_clickup, clickup_spec, retry) -> None:
    spec = clickup_spec.fresh()
    client = httpx.Client(transport=httpx.MockTransport(validating(fake_clickup, spec)))
    t = fake_clickup.add_task("a")
    make(client, retry).read_attributes()
    make(client, retry).read_tasks(updated_since=datetime(2024, 1, 1, tzinfo=UTC))
    make(client, retry, list_id=None).read_tasks()
    make(client, retry).write_tasks([{"id": t, "name": "b", "Budget": 4}])
    assert set(spec.seen) == {
        ("GET", "/v2/list/{list_id}/field"),
        ("GET", "/v2/list/{list_id}/task"),
        ("GET", "/v2/team/{team_Id}/task"),
        ("GET", "/v2/task/{task_id}"),
        ("PUT", "/v2/task/{task_id}"),
        ("POST", "/v2/task/{task_id}/field/{field_id}"),
    }


def test_rate_limit_uses_unix_reset_header(fake_clickup, clickup_spec, sleeps) -> None:
    from integrations.tickets.clickup import clickup_retry_policy
    from integrations.tickets.testing import Throttle

    fake = FakeClickUp(throttle=Throttle(lambda n: 2 if n == 1 else None, clock=lambda: 0.0))
    fake.add_task("a")
    client = httpx.Client(transport=httpx.MockTransport(validating(fake, clickup_spec)))
    retry = clickup_retry_policy(sleep=sleeps, rng=lambda: 0.0)
    assert len(make(client, retry).read_tasks()) == 1
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 2


def test_rejected_custom_value_after_put_is_reported(fake_clickup, clickup_client, retry) -> None:
    t = fake_clickup.add_task("a")
    # a number as text passes our check; ClickUp wants a JSON number and refuses it
    (result,) = make(clickup_client, retry).write_tasks([{"id": t, "name": "b", "Budget": "7"}])
    assert result.status == "updated" and set(result.changes) == {"name"}
    assert "FIELD_012" in result.rejected["Budget"]
    assert fake_clickup.tasks[t]["name"] == "b"
