"""Sync that persists: local records and sync state written together (one transaction),
tickets created for records without a key, remote deletions found, first-sync rules,
incremental reads; on SQLite, the JSON store and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.tickets.interface import TicketInterface, create_ticket_interface
from integrations.tickets.mapping import MappingError
from models.base import Record
from models.management import TicketSyncState
from repositories import Context, Database, connect

CORPUS = Path(__file__).parent / "adf" / "corpus"
MAPPING = {
    "name": "ops",
    "key_field": "key",
    "fields": {
        "key": {"path": "key", "direction": "read"},
        "summary": {"path": "fields.summary"},
        "body": {"path": "fields.description", "transform": "adf_to_markdown"},
        "state": {"path": "fields.status.name"},
        "updated": {"path": "fields.updated", "direction": "read"},
    },
}


class Ticket(Record):
    """A service's own copy of a ticket (a test model)."""

    mandate_id: str = ""
    key: str | None = None
    summary: str = ""
    body: str | None = None
    state: str | None = None
    updated: str | None = None


@pytest.fixture(params=["sqlite", "jsonfile", "postgres"])
def db(request, tmp_path) -> Iterator[Database]:
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sync.db'}"
    else:
        url = f"jsonfile://{tmp_path / 'store'}"
    database = connect(url, context=Context(user_id="sync", mandate_id="m1", privilege="admin"))
    database.ensure_schema(Ticket, TicketSyncState)
    yield database
    database.close()


def interface(fake, jira_client, retry, db: Database) -> TicketInterface:
    params = {
        "api_url": "https://ex.atlassian.net",
        "api_username": "ada@example.com",
        "api_token": "jira-token",
        "project_code": "PRJ",
        "ticket_type": "Task",
        "client": jira_client,
        "retry": retry,
    }
    return create_ticket_interface("jira", params, MAPPING, db=db, mandate_id="m1")


def by_key(db: Database) -> dict[str | None, Ticket]:
    return {t.key: t for t in db.repository(Ticket).find()}


def test_inbound_changes_land_in_the_local_repository(fake_jira, jira_client, retry, db) -> None:
    a = fake_jira.add_issue("A", description="*a*")
    b = fake_jira.add_issue("B")
    tickets = interface(fake_jira, jira_client, retry, db)
    local = db.repository(Ticket)

    first = tickets.sync(local)
    assert first.full_read and first.persisted == 2
    assert {k: (t.summary, t.body, t.state) for k, t in by_key(db).items()} == {
        "PRJ-1": ("A", "*a*", "To Do"),
        "PRJ-2": ("B", "", "To Do"),
    }
    assert db.repository(TicketSyncState).count() == 2

    fake_jira.edit(b, summary="B remote")
    record = by_key(db)["PRJ-1"]
    local.update(record.id, {"summary": "A local"})
    second = tickets.sync(local)
    assert not second.full_read and not second.conflicts
    assert [r.task_id for r in second.outbound] == ["PRJ-1"]
    assert fake_jira.issues[a]["fields"]["summary"] == "A local"
    assert by_key(db)["PRJ-2"].summary == "B remote" and second.persisted == 1
    (state,) = db.repository(TicketSyncState).find(where={"external_id": "PRJ-2"})
    assert state.fields["summary"] == "B remote" and state.local_id == by_key(db)["PRJ-2"].id
    assert state.cursor and state.cursor >= first.cursor


def test_local_records_without_a_key_become_tickets(fake_jira, jira_client, retry, db) -> None:
    fake_jira.add_issue("existing")
    tickets = interface(fake_jira, jira_client, retry, db)
    local = db.repository(Ticket)
    tickets.sync(local)
    local.create(Ticket(summary="Printer on fire", body="It **smokes**"))
    local.create(Ticket(summary=""))  # Jira needs a summary: fails alone
    report = tickets.sync(local)
    assert sorted(r.status for r in report.created) == ["created", "failed"]
    new = by_key(db)["PRJ-2"]
    assert new.summary == "Printer on fire"
    issue = fake_jira.find("PRJ-2")
    assert issue["fields"]["description"]["type"] == "doc"
    state = db.repository(TicketSyncState).find(where={"external_id": "PRJ-2"})[0]
    assert state.fields == {"summary": "Printer on fire", "body": "It **smokes**"}
    assert state.local_id == new.id
    again = tickets.sync(local)  # nothing to do: the new ticket's state was recorded
    assert not again.outbound and not again.conflicts
    assert [r.status for r in again.created] == ["failed"]  # the invalid one, still reported


def test_remote_deletions_are_found_and_reported(fake_jira, jira_client, retry, db) -> None:
    ids = [fake_jira.add_issue(f"i{n}") for n in range(3)]
    tickets = interface(fake_jira, jira_client, retry, db)
    local = db.repository(Ticket)
    tickets.sync(local)
    fake_jira.delete(ids[1])
    report = tickets.sync(local)
    assert report.deleted == ["PRJ-2"]
    assert "PRJ-2" in by_key(db)  # the local record is the caller's to keep or remove
    assert [
        s.external_id for s in db.repository(TicketSyncState).find(order_by=["external_id"])
    ] == [
        "PRJ-1",
        "PRJ-3",
    ]
    assert tickets.sync(local).missing == ["PRJ-2"]


def test_everything_is_written_in_one_transaction(fake_jira, jira_client, retry, db) -> None:
    fake_jira.add_issue("A")
    tickets = interface(fake_jira, jira_client, retry, db)
    local = db.repository(Ticket)
    tickets.sync(local)
    fake_jira.edit(fake_jira.find("PRJ-1")["id"], summary="A remote")
    fake_jira.add_issue("B")

    class Failing:  # the state store breaks after the local records were written
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def update(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("disk full")

    tickets.states = Failing(tickets.states)
    with pytest.raises(RuntimeError, match="disk full"):
        tickets.sync(local)
    assert {k: t.summary for k, t in by_key(db).items()} == {"PRJ-1": "A"}  # rolled back


def test_first_sync_takes_the_side_that_changed(fake_jira, jira_client, retry, db) -> None:
    a = fake_jira.add_issue("A")
    b = fake_jira.add_issue("B")
    c = fake_jira.add_issue("C")
    tickets = interface(fake_jira, jira_client, retry, db)
    exported = {row["key"]: row for row in tickets.export_tickets()}
    local = db.repository(Ticket)
    for row in exported.values():  # an earlier import, without sync state
        local.create(Ticket(**row))
    records = by_key(db)
    local.update(records["PRJ-1"].id, {"summary": "A local"})  # only local changed
    fake_jira.edit(b, summary="B remote")  # only remote changed
    local.update(records["PRJ-3"].id, {"summary": "C local"})  # both changed
    fake_jira.edit(c, summary="C remote")
    report = tickets.sync(local)
    assert fake_jira.issues[a]["fields"]["summary"] == "A local"
    assert by_key(db)["PRJ-2"].summary == "B remote"
    assert [(x.external_id, x.field) for x in report.conflicts] == [("PRJ-3", "summary")]
    assert fake_jira.issues[c]["fields"]["summary"] == "C remote"
    assert by_key(db)["PRJ-3"].summary == "C local"


def test_equal_values_on_a_first_sync_are_not_conflicts(fake_jira, jira_client, retry, db) -> None:
    fake_jira.add_issue("Same", description="*text*")
    tickets = interface(fake_jira, jira_client, retry, db)
    local = db.repository(Ticket)
    local.create(Ticket(key="PRJ-1", summary="Same", body="*text*", state="To Do"))
    local.update(by_key(db)["PRJ-1"].id, {"state": "To Do"})  # edited, but equal
    report = tickets.sync(local)
    assert not report.conflicts and not report.outbound
    (state,) = db.repository(TicketSyncState).find()
    assert state.fields["summary"] == "Same" and state.fields["body"] == "*text*"


def test_a_lossy_write_is_a_conflict_until_forced(fake_jira, jira_client, retry, db) -> None:
    document = json.loads((CORPUS / "atlas-node_media.json").read_text())
    issue = fake_jira.add_issue("A", description=document)
    tickets = interface(fake_jira, jira_client, retry, db)
    local = db.repository(Ticket)
    tickets.sync(local)
    record = by_key(db)["PRJ-1"]
    assert "mediaSingle" in (record.body or "")  # the images travel in the Markdown
    local.update(record.id, {"body": "Only text, the images deleted by hand"})
    report = tickets.sync(local)
    (conflict,) = report.conflicts
    assert conflict.field == "body" and "media(" in conflict.reason
    assert fake_jira.issues[issue]["fields"]["description"] == document
    again = tickets.sync(local)
    assert [c.field for c in again.conflicts] == ["body"]  # still unsynced
    forced = tickets.sync(local, force=True)
    assert not forced.conflicts
    assert "images deleted" in json.dumps(fake_jira.issues[issue]["fields"]["description"])


def test_local_keys_without_state_are_fetched_not_everything(
    fake_jira, jira_client, retry, db
) -> None:
    fake_jira.add_issue("A")
    tickets = interface(fake_jira, jira_client, retry, db)
    local = db.repository(Ticket)
    tickets.sync(local)
    fake_jira.add_issue("B")
    other = fake_jira.add_issue("C")
    fake_jira.issues[other]["fields"]["updated"] = "2023-01-01T00:00:00.000+0000"  # old
    local.create(Ticket(key="PRJ-3", summary="C"))
    fake_jira.requests.clear()
    report = tickets.sync(local)
    assert not report.full_read and not report.missing and not report.conflicts
    fetched = [json.loads(r.content) for r in fake_jira.requests if "bulkfetch" in r.url.path]
    assert fetched[0]["issueIdsOrKeys"] == ["PRJ-3"]
    assert set(by_key(db)) == {"PRJ-1", "PRJ-2", "PRJ-3"}


def test_a_model_without_the_mapped_fields_is_refused(fake_jira, jira_client, retry, db) -> None:
    class Narrow(Record):
        mandate_id: str = ""
        key: str | None = None

    db.ensure_schema(Narrow)
    with pytest.raises(MappingError, match="Narrow has no field 'summary'"):
        interface(fake_jira, jira_client, retry, db).sync(db.repository(Narrow))


def test_a_clickup_sync_reads_once_and_finds_deletions(
    fake_clickup, clickup_client, retry, db
) -> None:
    a = fake_clickup.add_task("a")
    b = fake_clickup.add_task("b")
    mapping = {
        "name": "cu",
        "key_field": "ticket_id",
        "fields": {"ticket_id": {"path": "id", "direction": "read"}, "title": {"path": "name"}},
    }
    params = {"api_token": "pk_test", "team_id": "900", "list_id": "901",
              "client": clickup_client, "retry": retry}  # fmt: skip
    tickets = create_ticket_interface("clickup", params, mapping, db=db, mandate_id="m1")
    rows = tickets.sync([]).records
    fake_clickup.delete(b)
    fake_clickup.edit(a, name="a2")
    fake_clickup.requests.clear()
    report = tickets.sync(rows)
    assert report.deleted == [b] and [c.fields for c in report.inbound] == [{"title": "a2"}]
    reads = [r for r in fake_clickup.requests if r.url.path.endswith("/list/901/task")]
    assert len(reads) == 1 and len(fake_clickup.requests) == 1
