"""TicketInterface: export and two-way sync with state in a real repository backend."""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations.errors import InvalidRequest
from integrations.tickets.interface import TicketInterface, create_ticket_interface
from integrations.tickets.jira import JiraConnector
from integrations.tickets.mapping import TicketMapping
from models.management import TicketSyncState
from repositories import Context, Repository, connect

JIRA_DEFINITION = {
    "name": "jira-main",
    "key_field": "key",
    "fields": {
        "key": {"path": "key", "direction": "read"},
        "summary": {"path": "fields.summary"},
        "body": {"path": "fields.description", "transform": "adf_to_markdown"},
        "state": {"path": "fields.status.name"},
        "budget": {"path": "fields.customfield_10020", "direction": "write"},
    },
}
CLICKUP_DEFINITION = {
    "name": "clickup-main",
    "key_field": "ticket_id",
    "fields": {
        "ticket_id": {"path": "id", "direction": "read"},
        "title": {"path": "name"},
        "severity": {
            "path": "custom_fields[name=Severity].value",
            "transform": "option_name_to_id",
        },
        "due": {"path": "due_date", "transform": "ms_epoch_to_iso"},
    },
}


def _jsonfile_ready() -> bool:
    try:
        importlib.import_module("repositories.jsonfile")
    except ImportError:
        return False
    return True


BACKENDS = [
    "sqlite",
    pytest.param(
        "jsonfile",
        marks=pytest.mark.skipif(
            not _jsonfile_ready(), reason="repositories.jsonfile not importable yet"
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
def states(request, tmp_path) -> Iterator[Repository[TicketSyncState]]:
    url = "sqlite://" if request.param == "sqlite" else f"jsonfile://{tmp_path}/management"
    db = connect(url, context=Context(user_id="sync", mandate_id="m1", privilege="admin"))
    db.ensure_schema(TicketSyncState)
    yield db.repository(TicketSyncState)
    db.close()


def jira_interface(client, retry, states=None) -> TicketInterface:
    return create_ticket_interface(
        "JIRA",
        {
            "apiUrl": "https://ex.atlassian.net",
            "apiUsername": "ada@example.com",
            "apiToken": "jira-token",
            "projectCode": "PRJ",
            "ticketType": "Task",
            "client": client,
            "retry": retry,
        },
        JIRA_DEFINITION,
        states=states,
        mandate_id="m1",
    )


def test_factory_rejects_unknown_type() -> None:
    with pytest.raises(InvalidRequest, match="unknown ticket connector type 'trello'"):
        create_ticket_interface("trello", {}, JIRA_DEFINITION)


def test_factory_builds_both(jira_client, retry) -> None:
    assert isinstance(jira_interface(jira_client, retry).connector, JiraConnector)
    clickup = create_ticket_interface(
        "ClickUp", {"api_token": "pk", "team_id": "1"}, CLICKUP_DEFINITION
    )
    assert type(clickup.connector).__name__ == "ClickUpConnector"


def test_export_rows_and_csv(fake_jira, jira_client, retry, tmp_path) -> None:
    fake_jira.add_issue("First", description="Some **bold**")
    fake_jira.add_issue("Second", status="Done")
    interface = jira_interface(jira_client, retry)
    rows = interface.export_tickets()
    assert [(r["key"], r["summary"], r["state"]) for r in rows] == [
        ("PRJ-1", "First", "To Do"),
        ("PRJ-2", "Second", "Done"),
    ]
    assert rows[0]["body"] == "Some **bold**" and "budget" not in rows[0]
    search = json.loads(next(r for r in fake_jira.requests if r.method == "POST").content)
    assert search["fields"] == ["description", "status", "summary", "updated"]
    assert interface.export_csv(tmp_path / "out.csv") == 2
    with (tmp_path / "out.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert table[1]["summary"] == "Second" and table[0]["body"] == "Some **bold**"


def test_clickup_export_uses_option_names(fake_clickup, clickup_client, retry) -> None:
    fake_clickup.add_task("a", **{"cf-severity": 1})
    interface = create_ticket_interface(
        "clickup",
        {
            "api_token": "pk_test",
            "team_id": "900",
            "list_id": "901",
            "client": clickup_client,
            "retry": retry,
        },
        CLICKUP_DEFINITION,
    )
    (row,) = interface.export_tickets()
    assert row == {"ticket_id": "t00001", "title": "a", "severity": "High", "due": None}


def test_two_way_sync(fake_jira, jira_client, retry, states) -> None:
    ids = {name: fake_jira.add_issue(name, description=f"{name} text") for name in "ABCD"}
    interface = jira_interface(jira_client, retry, states)

    first = interface.sync([])
    assert first.full_read and not first.outbound and not first.conflicts
    assert sorted(c.external_id for c in first.inbound if c.new) == [
        "PRJ-1",
        "PRJ-2",
        "PRJ-3",
        "PRJ-4",
    ]
    assert states.count() == 4
    local = {r["key"]: r for r in first.records}

    local["PRJ-1"]["summary"] = "A local"  # local only -> written out
    fake_jira.edit(ids["B"], summary="B remote")  # remote only -> taken in
    local["PRJ-3"]["summary"] = "C local"  # both -> conflict
    fake_jira.edit(ids["C"], summary="C remote")
    local["PRJ-4"]["state"] = "Done"  # both, same value -> synced
    fake_jira.edit(ids["D"], status={"name": "Done", "id": "10001"})
    local["PRJ-4"]["budget"] = 12  # write-only field
    fake_jira.requests.clear()

    second = interface.sync(list(local.values()))
    assert not second.full_read
    search = next(r for r in fake_jira.requests if r.url.path.endswith("/search/jql"))
    jql = json.loads(search.content)["jql"]
    assert "updated >= " in jql
    assert {r.task_id: r.status for r in second.outbound} == {
        "PRJ-1": "updated",
        "PRJ-4": "updated",
    }
    assert fake_jira.issues[ids["A"]]["fields"]["summary"] == "A local"
    assert fake_jira.issues[ids["D"]]["fields"]["customfield_10020"] == 12
    assert [(c.external_id, c.fields) for c in second.inbound] == [
        ("PRJ-2", {"summary": "B remote"})
    ]
    assert [(c.external_id, c.field, c.local, c.remote) for c in second.conflicts] == [
        ("PRJ-3", "summary", "C local", "C remote")
    ]
    assert fake_jira.issues[ids["C"]]["fields"]["summary"] == "C remote"  # left alone
    merged = {r["key"]: r for r in second.records}
    assert merged["PRJ-2"]["summary"] == "B remote" and merged["PRJ-3"]["summary"] == "C local"

    third = interface.sync(list(merged.values()))
    assert not third.outbound and not third.inbound
    assert [c.external_id for c in third.conflicts] == ["PRJ-3"]  # still unresolved
    state = states.find(where={"external_id": "PRJ-1"})[0]
    assert state.fields["summary"] == "A local" and state.cursor


def test_dry_run_writes_nothing(fake_jira, jira_client, retry, states) -> None:
    issue = fake_jira.add_issue("A")
    interface = jira_interface(jira_client, retry, states)
    interface.sync([])
    before = [s.model_dump() for s in states.find()]
    report = interface.sync([{"key": "PRJ-1", "summary": "changed"}], dry_run=True)
    assert [r.status for r in report.outbound] == ["planned"]
    assert fake_jira.issues[issue]["fields"]["summary"] == "A"
    assert [s.model_dump() for s in states.find()] == before


def test_failed_write_stays_unsynced(fake_jira, jira_client, retry, states) -> None:
    fake_jira.add_issue("A")
    interface = jira_interface(jira_client, retry, states)
    interface.sync([])
    report = interface.sync([{"key": "PRJ-1", "state": "Shipped"}])
    assert report.outbound[0].status == "failed"
    again = interface.sync([{"key": "PRJ-1", "state": "Shipped"}])
    assert again.outbound[0].status == "failed"  # reported again, not forgotten


def test_unknown_local_ticket_is_reported(fake_jira, jira_client, retry, states) -> None:
    fake_jira.add_issue("A")
    report = jira_interface(jira_client, retry, states).sync([{"key": "PRJ-77", "summary": "x"}])
    assert report.missing == ["PRJ-77"]


def test_sync_needs_state(fake_jira, jira_client, retry) -> None:
    with pytest.raises(InvalidRequest, match="repository"):
        jira_interface(jira_client, retry).sync([])


def test_clickup_sync_with_options(fake_clickup, clickup_client, retry, states) -> None:
    t = fake_clickup.add_task("a", **{"cf-severity": 0})
    interface = create_ticket_interface(
        "clickup",
        {
            "api_token": "pk_test",
            "team_id": "900",
            "list_id": "901",
            "client": clickup_client,
            "retry": retry,
        },
        CLICKUP_DEFINITION,
        states=states,
        mandate_id="m1",
    )
    first = interface.sync([])
    assert first.records == [{"ticket_id": t, "title": "a", "severity": "Low", "due": None}]
    report = interface.sync(
        [{"ticket_id": t, "title": "a", "severity": "High", "due": "2024-02-01T00:00:00+00:00"}]
    )
    assert report.outbound[0].status == "updated", report.outbound[0]
    assert fake_clickup.custom_value(t, "cf-severity") == 1
    assert fake_clickup.tasks[t]["due_date"] == "1706745600000"
    fake_clickup.edit(t, name="renamed")
    third = interface.sync(report.records)
    assert [(c.external_id, c.fields) for c in third.inbound] == [(t, {"title": "renamed"})]
    assert not third.outbound


EXAMPLES = Path(__file__).resolve().parents[3] / "integrations" / "tickets" / "examples"


def test_example_definitions_export(
    fake_jira, jira_client, fake_clickup, clickup_client, retry
) -> None:
    fake_jira.add_issue("One", description="*x*", labels=["a", "b"])
    jira = TicketInterface(
        JiraConnector(
            "https://ex.atlassian.net",
            "ada@example.com",
            "jira-token",
            "PRJ",
            "Task",
            client=jira_client,
            retry=retry,
        ),
        TicketMapping.load(EXAMPLES / "jira.yaml"),
    )
    (row,) = jira.export_tickets()
    assert (row["summary"], row["body"], row["labels"], row["state"]) == (
        "One",
        "*x*",
        "a, b",
        "To Do",
    )
    fake_clickup.add_task("Two", **{"cf-severity": 0, "cf-budget": 7})
    clickup = create_ticket_interface(
        "clickup",
        {
            "api_token": "pk_test",
            "team_id": "900",
            "list_id": "901",
            "client": clickup_client,
            "retry": retry,
        },
        TicketMapping.load(EXAMPLES / "clickup.yaml"),
    )
    (row,) = clickup.export_tickets()
    assert (row["title"], row["severity"], row["budget"], row["state"]) == (
        "Two",
        "Low",
        7,
        "to do",
    )
    assert row["updated"].startswith("2024-01-01T")


def test_first_sync_with_differing_values_is_a_conflict(
    fake_jira, jira_client, retry, states
) -> None:
    fake_jira.add_issue("remote title")
    report = jira_interface(jira_client, retry, states).sync(
        [{"key": "PRJ-1", "summary": "local title", "state": "To Do"}]
    )
    assert [(c.field, c.local, c.remote) for c in report.conflicts] == [
        ("summary", "local title", "remote title")
    ]
    assert not report.outbound
    (state,) = states.find()
    assert state.fields["state"] == "To Do" and "summary" not in state.fields
