"""Sync definition: paths, transforms, loading from YAML/JSON."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from integrations.errors import IntegrationError
from integrations.tickets.base import TicketField
from integrations.tickets.mapping import (
    MappingError,
    TicketMapping,
    get_path,
    parse_path,
    set_path,
)
from models.management import TicketSyncDefinition

TASK = {
    "id": "t1",
    "status": {"status": "open"},
    "date_updated": "1704103200000",
    "custom_fields": [
        {"id": "cf-1", "name": "Budget", "value": 5},
        {"id": "cf-2", "name": "Severity", "value": 1},
    ],
    "assignees": [{"id": 7, "username": "ada"}],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("status.status", "open"),
        ("custom_fields[name=Budget].value", 5),
        ("custom_fields[name=budget].value", 5),
        ("custom_fields[id=cf-2].value", 1),
        ("assignees[0].username", "ada"),
        ("assignees[3].username", None),
        ("custom_fields[name=Nope].value", None),
        ("status.nothing.deeper", None),
    ],
)
def test_get_path(path, expected) -> None:
    assert get_path(TASK, path) == expected


def test_set_path_creates_structure() -> None:
    task: dict = {}
    set_path(task, "fields.status.name", "Done")
    set_path(task, "custom_fields[name=Budget].value", 9)
    set_path(task, "custom_fields[name=budget].currency", "EUR")
    set_path(task, "tags[1]", "b")
    assert task == {
        "fields": {"status": {"name": "Done"}},
        "custom_fields": [{"name": "Budget", "value": 9, "currency": "EUR"}],
        "tags": [None, "b"],
    }


@pytest.mark.parametrize("bad", ["", "a..b", ".a", "a.", "a[", "a[x=1"])
def test_bad_paths(bad) -> None:
    with pytest.raises(MappingError):
        parse_path(bad)


DEFINITION = {
    "name": "clickup-main",
    "key_field": "ticket_id",
    "fields": {
        "ticket_id": {"path": "id", "direction": "read"},
        "state": {"path": "status.status"},
        "updated": {"path": "date_updated", "direction": "read", "transform": "ms_epoch_to_iso"},
        "budget": {"path": "custom_fields[name=Budget].value", "direction": "write"},
        "severity": {
            "path": "custom_fields[name=Severity].value",
            "transform": "option_name_to_id",
        },
    },
}
ATTRS = {
    "Severity": TicketField(
        id="cf-2",
        name="Severity",
        custom=True,
        type="drop_down",
        options=[
            {"id": "opt-low", "name": "Low", "orderindex": 0},
            {"id": "opt-high", "name": "High", "orderindex": 1},
        ],
    )
}


def test_rows_and_tasks() -> None:
    definition = TicketMapping.model_validate(DEFINITION)
    row = definition.to_row(TASK, ATTRS)
    assert row == {
        "ticket_id": "t1",
        "state": "open",
        "updated": "2024-01-01T10:00:00+00:00",
        "severity": "High",
    }
    task = definition.to_task("t1", {"state": "done", "budget": 3, "severity": "low"}, ATTRS)
    assert task == {
        "id": "t1",
        "status": {"status": "done"},
        "custom_fields": [{"name": "Budget", "value": 3}, {"name": "Severity", "value": "opt-low"}],
    }
    with pytest.raises(MappingError, match="not writable"):
        definition.to_task("t1", {"updated": "2024-01-01T00:00:00Z"})
    with pytest.raises(MappingError, match="not an option"):
        definition.to_task("t1", {"severity": "Critical"}, ATTRS)


def test_load_yaml_and_json(tmp_path) -> None:
    (tmp_path / "d.json").write_text(json.dumps(DEFINITION))
    (tmp_path / "d.yaml").write_text(
        "name: jira\nkey_field: key\nfields:\n"
        "  key: {path: key, direction: read}\n"
        "  summary: {path: fields.summary}\n"
        "  body: {path: fields.description, transform: adf_to_markdown}\n"
    )
    assert TicketMapping.load(tmp_path / "d.json").name == "clickup-main"
    jira = TicketMapping.load(tmp_path / "d.yaml")
    assert jira.read_paths() == ["description", "summary"]
    assert jira.to_task("PRJ-1", {"body": "**x**"})["fields"]["description"]["type"] == "doc"


def test_invalid_definitions() -> None:
    with pytest.raises(ValidationError, match="unknown transform"):
        TicketMapping.model_validate(
            {"key_field": "k", "fields": {"k": {"path": "id", "transform": "rot13"}}}
        )
    with pytest.raises(ValidationError, match="key_field"):
        TicketMapping.model_validate({"fields": {"k": {"path": "id"}}})
    with pytest.raises(ValidationError, match="direction"):
        TicketMapping.model_validate(
            {"key_field": "k", "fields": {"k": {"path": "id", "direction": "sideways"}}}
        )


def test_mapping_errors_belong_to_the_integration_tree(tmp_path) -> None:
    assert issubclass(MappingError, IntegrationError)
    assert not issubclass(MappingError, ValueError)
    with pytest.raises(MappingError, match=r"fields\.k\.path: .*cannot parse path 'a\.\.b'"):
        TicketMapping.from_data({"key_field": "k", "fields": {"k": {"path": "a..b"}}})
    with pytest.raises(MappingError, match=r"ticket mapping: fields\.k\.transform"):
        TicketMapping.from_data(
            {"key_field": "k", "fields": {"k": {"path": "id", "transform": "rot13"}}}
        )


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("bad.yaml", "fields: [unclosed", "not valid YAML"),
        ("bad.json", "{", "not valid JSON"),
        ("list.yaml", "- 1\n- 2\n", "top level"),
        ("nokey.yaml", "fields:\n  k: {path: id}\n", "key_field 'ticket_id'"),
    ],
)
def test_load_names_the_file_and_the_problem(tmp_path, name, text, problem) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(MappingError, match=problem) as caught:
        TicketMapping.load(tmp_path / name)
    assert str(tmp_path / name) in str(caught.value)


def test_load_of_a_missing_file(tmp_path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        TicketMapping.load(tmp_path / "nope.yaml")


def test_a_stored_definition_holds_a_mapping() -> None:
    record = TicketSyncDefinition(
        id="def-1", name="clickup", connector_type="clickup", definition=DEFINITION
    )
    mapping = TicketMapping.from_record(record)
    assert mapping.definition_id == "def-1" and mapping.connector_type == "clickup"
    assert mapping.fields["severity"].transform == "option_name_to_id"
    broken = TicketSyncDefinition(name="x", connector_type="jira", definition={"fields": {}})
    with pytest.raises(MappingError, match=f"TicketSyncDefinition '{broken.id}'.*key_field"):
        TicketMapping.from_record(broken)


def test_a_remote_value_a_transform_cannot_read_is_a_typed_error() -> None:
    from integrations.tickets.errors import UnexpectedResponse

    mapping = TicketMapping.from_data(
        {
            "key_field": "k",
            "fields": {
                "k": {"path": "id"},
                "due": {"path": "due_date", "transform": "ms_epoch_to_iso"},
                "n": {"path": "n", "transform": "to_float"},
            },
        }
    )
    with pytest.raises(
        UnexpectedResponse, match="due_date: ms_epoch_to_iso cannot read 'soon'"
    ) as caught:
        mapping.to_row({"id": "1", "due_date": "soon"})
    assert caught.value.field == "due_date"
    with pytest.raises(UnexpectedResponse, match="n: to_float"):
        mapping.to_row({"id": "1", "n": "lots"})
    with pytest.raises(MappingError, match="due: ms_epoch_to_iso cannot write 'soon'"):
        mapping.to_task("1", {"due": "soon"})
