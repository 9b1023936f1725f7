"""The fake ClickUp's workspace schema (statuses, priorities, custom fields) and filters."""

from __future__ import annotations

import json
from typing import Any

import httpx

__all__ = ["CUSTOM_FIELDS", "PRIORITIES", "STATUSES", "USER", "matches"]

STATUSES = {"to do": "open", "in progress": "custom", "complete": "closed"}
PRIORITIES = {1: "urgent", 2: "high", 3: "normal", 4: "low"}
_FIELD = {"date_created": "1704100000000", "hide_from_guests": False, "required": False}
CUSTOM_FIELDS: list[dict[str, Any]] = [
    {"id": "cf-budget", "name": "Budget", "type": "number", "type_config": {}, **_FIELD},
    {"id": "cf-notes", "name": "Notes", "type": "text", "type_config": {}, **_FIELD},
    {
        "id": "cf-severity",
        "name": "Severity",
        "type": "drop_down",
        "type_config": {
            "options": [
                {"id": "opt-low", "name": "Low", "color": None, "orderindex": 0},
                {"id": "opt-high", "name": "High", "color": "#f00", "orderindex": 1},
            ]
        },
        **_FIELD,
    },
    {
        "id": "cf-areas",
        "name": "Areas",
        "type": "labels",
        "type_config": {
            "options": [
                {"id": "lbl-api", "label": "API", "color": None},
                {"id": "lbl-ui", "label": "UI", "color": None},
            ]
        },
        **_FIELD,
    },
    {"id": "cf-approve", "name": "Approve", "type": "button", "type_config": {}, **_FIELD},
]
USER = {
    "id": 183,
    "username": "Ada Lovelace",
    "email": "ada@example.com",
    "color": "#827718",
    "initials": "AL",
    "profilePicture": "https://attachments-public.clickup.com/profilePictures/183_ada.jpg",
}


def matches(task: dict[str, Any], params: httpx.QueryParams, team: bool) -> bool:
    """Whether a list (or team) read with these query parameters selects ``task``."""
    suffix = "[]" if team else ""
    if params.get("include_closed") != "true" and task["status"]["type"] == "closed":
        return False
    if params.get("subtasks") != "true" and task["parent"]:
        return False
    if not team and (params.get("archived") == "true") != task["archived"]:
        return False
    if team and task["archived"]:
        return False
    statuses = {s.casefold() for s in params.get_list(f"statuses{suffix}")}
    if statuses and task["status"]["status"].casefold() not in statuses:
        return False
    assignees = set(params.get_list(f"assignees{suffix}"))
    if assignees and not assignees & {str(a["id"]) for a in task["assignees"]}:
        return False
    tags = set(params.get_list(f"tags{suffix}"))
    if tags and not tags & {t["name"] for t in task["tags"]}:
        return False
    for name in ("due_date", "date_created", "date_updated"):
        value = task.get(name)
        for op, keep in (("gt", int.__gt__), ("lt", int.__lt__)):
            bound = params.get(f"{name}_{op}")
            if bound is not None and (value is None or not keep(int(value), int(bound))):
                return False
    for rule in json.loads(params.get("custom_fields", "[]")):
        if str(_value_of(task, rule.get("field_id"))) != str(rule.get("value")):
            return False
    return True


def _value_of(task: dict[str, Any], field_id: Any) -> Any:
    return next((f.get("value") for f in task["custom_fields"] if f["id"] == field_id), None)
