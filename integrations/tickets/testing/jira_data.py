"""The fake Jira's schema: statuses, transitions, fields, and what a write may carry."""

from __future__ import annotations

from typing import Any

__all__ = [
    "CUSTOM_FIELDS",
    "ME",
    "READ_ONLY",
    "RICH",
    "STAMP",
    "STATUSES",
    "SYSTEM_FIELDS",
    "TRANSITIONS",
    "field_errors",
]

STATUSES = {"To Do": "10000", "In Progress": "3", "Done": "10001"}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
SYSTEM_FIELDS = [
    ("summary", "Summary", {"type": "string", "system": "summary"}),
    ("description", "Description", {"type": "string", "system": "description"}),
    ("environment", "Environment", {"type": "string", "system": "environment"}),
    ("status", "Status", {"type": "status", "system": "status"}),
    ("priority", "Priority", {"type": "priority", "system": "priority"}),
    ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}),
    ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}),
    ("project", "Project", {"type": "project", "system": "project"}),
    ("updated", "Updated", {"type": "datetime", "system": "updated"}),
    ("created", "Created", {"type": "datetime", "system": "created"}),
]
CT = "com.atlassian.jira.plugin.system.customfieldtypes:"
CUSTOM_FIELDS = [
    ("customfield_10010", "Acceptance Criteria", {"type": "string", "custom": CT + "textarea"}),
    ("customfield_10011", "Team Name", {"type": "string", "custom": CT + "textfield"}),
    ("customfield_10020", "Budget", {"type": "number", "custom": CT + "float"}),
]
RICH = {"description", "environment", "customfield_10010"}
READ_ONLY = {"status", "updated", "created"}
STAMP = "%Y-%m-%dT%H:%M:%S.000+0000"
ME = {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ada Lovelace"}


def field_errors(fields: dict[str, Any], *, creating: bool, project: str) -> dict[str, str]:
    """Jira's 400 ``errors`` for fields an edit or a create may not carry."""
    known = {fid for fid, _, _ in SYSTEM_FIELDS + CUSTOM_FIELDS}
    errors: dict[str, str] = {}
    for name, value in fields.items():
        if name not in known or (creating and name in READ_ONLY):
            errors[name] = (
                f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            )
        elif (
            name in RICH
            and value is not None
            and not (isinstance(value, dict) and value.get("type") == "doc")
        ):
            errors[name] = "Operation value must be an Atlassian Document (see ADF)."
        elif name == "summary" and not value:
            errors[name] = "You must specify a summary of the issue."
        elif name == "summary" and len(str(value)) > 255:
            errors[name] = "Summary must be less than 255 characters."
    if creating:
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if (fields.get("project") or {}).get("key") != project:
            errors["project"] = "Specify a valid project ID or key"
        if not (fields.get("issuetype") or {}).get("name"):
            errors["issuetype"] = "Specify an issue type"
    return errors
