"""Writing ClickUp tasks: changed core fields in one ``PUT /v2/task/{id}``, custom fields one
``POST /v2/task/{id}/field/{field_id}`` each, cleared ones by ``DELETE`` on the same path;
creating them, one ``POST /v2/list/{id}/task`` each (ClickUp has no bulk create).

Empty wanted values clear: ``priority``, ``due_date`` and ``start_date`` are sent as
``null`` (ClickUp's documented way to remove them; the published description types them
as integers only, so the tests' validator admits ``null`` there, see
`integrations.tickets.testing.openapi`), ``assignees`` become an empty set, a
description ``" "`` (ClickUp's own instruction), a custom field is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from integrations.tickets.base import (
    CreateResult,
    FieldChange,
    WriteResult,
    merge_by_id,
    run_writes,
    same_value,
    write_progress,
)
from integrations.tickets.clickup_fields import CLEAR, UNCHANGED, custom_value, match_field, to_ms
from integrations.tickets.errors import (
    InvalidRequest,
    NotFound,
    RequestRejected,
    UnexpectedResponse,
)
from integrations.tickets.responses import as_dict, as_list, json_body, opt_int, opt_ms, opt_str

if TYPE_CHECKING:
    from integrations.tickets.clickup import ClickUpConnector

__all__ = ["CORE_FIELDS", "core_create", "create_tasks", "write_tasks"]

CORE_FIELDS: dict[str, str] = {
    "id": "string",
    "name": "string",
    "status": "status",
    "description": "markdown",
    "assignees": "users",
    "priority": "priority",
    "due_date": "date",
    "start_date": "date",
    "date_created": "date",
    "date_updated": "date",
    "tags": "tags",
}
WRITABLE_CORE = {"name", "status", "description", "assignees", "priority", "due_date", "start_date"}
DESCRIPTION_ALIASES = {"markdown_description", "markdown_content", "text_content"}


def write_tasks(
    clickup: ClickUpConnector, tasks: Sequence[dict[str, Any]], *, dry_run: bool = False
) -> list[WriteResult]:
    """Write changed core fields (one PUT) and custom fields (one POST/DELETE each).

    A task is ``{"id": ..., "name"|"status"|"description"|...: value,
    "custom_fields": [{"id" or "name": ..., "value": ...}], "<Custom Field Name>": value}``.
    """
    results: list[WriteResult] = []
    valid = []
    for task in tasks:
        if task.get("id"):
            valid.append(task)
        else:
            results.append(WriteResult(task_id="?", status="failed", error="task has no id"))
    merged = merge_by_id(valid, lambda t: str(t["id"]))
    list_fields = clickup.custom_fields()

    def one(key: str, task: dict[str, Any]) -> WriteResult:
        return _write_one(clickup, key, task, list_fields, dry_run)

    on_done = write_progress(clickup.progress)
    return results + run_writes(merged, one, clickup.concurrency, on_done=on_done)


def _write_one(
    clickup: ClickUpConnector,
    key: str,
    task: dict[str, Any],
    list_fields: list[dict[str, Any]],
    dry_run: bool,
) -> WriteResult:
    params = clickup.task_params({"include_markdown_description": "true"})
    current = as_dict(
        json_body(clickup.http.request("GET", f"/task/{key}", params=params), "task"), key
    )
    defs = {f["id"]: f for f in list_fields}
    values: dict[str, Any] = {}
    for n, raw in enumerate(as_list(current.get("custom_fields"), f"{key}.custom_fields")):
        field = as_dict(raw, f"{key}.custom_fields[{n}]")
        field_id = opt_str(field.get("id"), f"{key}.custom_fields[{n}].id")
        if field_id and isinstance(field.get("name"), str) and isinstance(field.get("type"), str):
            defs.setdefault(field_id, field)
            values[field_id] = field.get("value")
    body: dict[str, Any] = {}
    posts: dict[str, Any] = {}
    changes: dict[str, FieldChange] = {}
    rejected: dict[str, str] = {}
    unknown: dict[str, Any] = {}
    wanted_custom = [
        (c.get("id") or c.get("name"), c.get("value"))
        for c in task.get("custom_fields") or []
        if isinstance(c, dict)
    ]
    for name, value in task.items():
        if name in ("id", "custom_fields"):
            continue
        core = "description" if name in DESCRIPTION_ALIASES else name
        if core in WRITABLE_CORE:
            try:
                _core_change(core, value, current, body, changes)
            except InvalidRequest as exc:
                rejected[name] = str(exc)
        elif core in CORE_FIELDS:
            rejected[name] = "read-only ClickUp field"
        else:
            wanted_custom.append((name, value))
    for ref, value in wanted_custom:
        target = match_field(str(ref), defs)
        if target is None:
            unknown[str(ref)] = value
            continue
        if target["type"] == "button":
            rejected[target["name"]] = "button fields are never written"
            continue
        try:
            wire = custom_value(target, value, values.get(target["id"]))
        except InvalidRequest as exc:
            rejected[target["name"]] = str(exc)
            continue
        if wire is not UNCHANGED:
            posts[target["id"]] = wire
            new = None if wire is CLEAR else wire
            changes[target["name"]] = FieldChange(old=values.get(target["id"]), new=new)
    if unknown:
        if clickup.unknown_fields == "append_to_description":
            _append_unknown(unknown, current, body, changes)
        else:
            for name in unknown:
                rejected[name] = "matches no core or custom ClickUp field"
    if not changes:
        attempted = len([k for k in task if k not in ("id", "custom_fields")]) + len(
            task.get("custom_fields") or []
        )
        failed = bool(rejected) and len(rejected) >= attempted
        error = "no field could be written" if failed else None
        status = "failed" if failed else "unchanged"
        return WriteResult(task_id=key, status=status, rejected=rejected, error=error)
    if dry_run:
        return WriteResult(task_id=key, status="planned", changes=changes, rejected=rejected)
    if body:
        clickup.http.request("PUT", f"/task/{key}", params=clickup.task_params(), json=body)
    for field_id, wire in posts.items():
        name = defs[field_id]["name"]
        path = f"/task/{key}/field/{field_id}"
        try:
            if wire is CLEAR:
                clickup.http.request("DELETE", path, params=clickup.task_params())
            else:
                clickup.http.request(
                    "POST", path, params=clickup.task_params(), json={"value": wire}
                )
        except (RequestRejected, NotFound) as exc:
            # the task is partly written by now: report the field, keep the rest
            rejected[name] = str(exc)
            changes.pop(name, None)
    if not changes:
        return WriteResult(
            task_id=key, status="failed", rejected=rejected, error="no field could be written"
        )
    return WriteResult(task_id=key, status="updated", changes=changes, rejected=rejected)


def _priority(value: Any) -> int | None:
    raw = value.get("id") if isinstance(value, dict) else value
    if raw in (None, ""):
        return None
    try:
        number = opt_int(raw, "priority")
    except UnexpectedResponse as exc:  # a wanted value here: the caller's mistake
        raise InvalidRequest(f"priority: {raw!r} is not 1-4 (urgent..low)") from exc
    if number is None or not 1 <= number <= 4:
        raise InvalidRequest(f"priority: {raw!r} is not 1-4 (urgent..low)")
    return number


def _remote_priority(current: dict[str, Any]) -> int | None:
    old = current.get("priority")
    try:
        return _priority(old) if old is not None else None
    except InvalidRequest:
        return None  # unreadable remote value: counts as different, so it is overwritten


def _core_change(
    name: str,
    value: Any,
    current: dict[str, Any],
    body: dict[str, Any],
    changes: dict[str, FieldChange],
) -> None:
    if name == "name":
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest("name must not be empty")
        if value != current.get("name"):
            body["name"] = value
            changes[name] = FieldChange(old=current.get("name"), new=value)
    elif name == "status":
        target = value.get("status") if isinstance(value, dict) else value
        status = current.get("status")
        old = status.get("status") if isinstance(status, dict) else None
        if not isinstance(target, str) or not target.strip():
            raise InvalidRequest("status must not be empty")
        if str(old or "").casefold() != target.casefold():
            body["status"] = target
            changes[name] = FieldChange(old=old, new=target)
    elif name == "description":
        old = current.get("markdown_description") or current.get("description") or ""
        new = "" if value is None else str(value)
        if not same_value(old, new):
            body["markdown_content"] = new if new.strip() else " "
            changes[name] = FieldChange(old=old, new=new)
    elif name == "assignees":
        have = _user_ids(current.get("assignees"))
        want = _user_ids(value or [])
        if have != want:
            body["assignees"] = {"add": sorted(want - have), "rem": sorted(have - want)}
            changes[name] = FieldChange(old=sorted(have), new=sorted(want))
    elif name == "priority":
        old_id, new_id = _remote_priority(current), _priority(value)
        if new_id != old_id:
            body["priority"] = new_id  # None clears it
            changes[name] = FieldChange(old=old_id, new=new_id)
    else:  # due_date, start_date
        old_ms = _remote_ms(current.get(name))
        new_ms = to_ms(value, name)
        if new_ms != old_ms:
            body[name] = new_ms  # None clears it
            changes[name] = FieldChange(old=old_ms, new=new_ms)


def _remote_ms(value: Any) -> int | None:
    try:
        return opt_ms(value, "date")
    except UnexpectedResponse:  # an unreadable remote date counts as different
        return None


def _user_ids(values: Any) -> set[int]:
    out: set[int] = set()
    for value in values if isinstance(values, list) else [values]:
        raw = value.get("id") if isinstance(value, dict) else value
        if isinstance(raw, bool) or raw is None:
            continue
        try:
            out.add(int(raw))
        except (TypeError, ValueError):
            raise InvalidRequest(f"assignees: {raw!r} is not a ClickUp user id") from None
    return out


def _append_unknown(
    unknown: dict[str, Any],
    current: dict[str, Any],
    body: dict[str, Any],
    changes: dict[str, FieldChange],
) -> None:
    old = current.get("markdown_description") or current.get("description") or ""
    base = body.get("markdown_content", old)
    if "description" in changes:
        base = changes["description"].new or ""
    block = "\n".join(f"{name}: {value}" for name, value in unknown.items())
    if block in base:
        return  # already appended by an earlier run
    new = f"{base.rstrip()}\n\n{block}" if base.strip() else block
    body["markdown_content"] = new
    changes["description"] = FieldChange(old=old, new=new)


def core_create(task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``POST /list/{id}/task`` body for a task's core fields, and what was refused."""
    body: dict[str, Any] = {}
    rejected: dict[str, str] = {}
    for name, value in task.items():
        core = "description" if name in DESCRIPTION_ALIASES else name
        try:
            if core == "name":
                body["name"] = "" if value is None else str(value)
            elif core == "description" and value not in (None, ""):
                body["markdown_content"] = str(value)
            elif core == "status" and value:
                body["status"] = value.get("status") if isinstance(value, dict) else str(value)
            elif core == "priority" and (number := _priority(value)) is not None:
                body["priority"] = number
            elif core in ("due_date", "start_date") and (ms := to_ms(value, core)) is not None:
                body[core] = ms
            elif core == "assignees" and value:
                body["assignees"] = sorted(_user_ids(value))
            elif core == "tags" and value:
                body["tags"] = [str(t) for t in (value if isinstance(value, list) else [value])]
            elif core in CORE_FIELDS and core not in ("name", "description", "status") and value:
                rejected[name] = "read-only ClickUp field"
        except InvalidRequest as exc:
            rejected[name] = str(exc)
    return body, rejected


def create_tasks(
    clickup: ClickUpConnector, tasks: Sequence[dict[str, Any]], *, dry_run: bool = False
) -> list[CreateResult]:
    """Create one task per item in the connector's list (``POST /list/{id}/task``).

    A task is shaped as for `write_tasks` (core fields by name, custom fields by
    id or name); ``name`` is required. ClickUp has no bulk create: one request each.
    """
    if not clickup.list_id:
        raise InvalidRequest("creating ClickUp tasks needs a list_id")
    defs = {f["id"]: f for f in clickup.custom_fields()}
    results: list[CreateResult] = []
    for index, task in enumerate(tasks):
        body, rejected = core_create(task)
        for ref, value in _custom_refs(task):
            field = match_field(str(ref), defs)
            if field is None:
                rejected[str(ref)] = "matches no core or custom ClickUp field"
                continue
            try:
                wire = custom_value(field, value, None)
            except InvalidRequest as exc:
                rejected[field["name"]] = str(exc)
                continue
            if wire not in (UNCHANGED, CLEAR):
                body.setdefault("custom_fields", []).append({"id": field["id"], "value": wire})
        if not str(body.get("name") or "").strip():
            results.append(
                CreateResult(index=index, status="failed", error="name must not be empty")
            )
            continue
        if dry_run:
            results.append(CreateResult(index=index, status="planned", rejected=rejected))
            continue
        try:
            response = clickup.http.request(
                "POST", f"/list/{clickup.list_id}/task", json=body, idempotent=False
            )
        except (RequestRejected, NotFound) as exc:
            results.append(
                CreateResult(index=index, status="failed", error=str(exc), rejected=rejected)
            )
            continue
        created = as_dict(json_body(response, "task"), "task")
        results.append(
            CreateResult(
                index=index,
                status="created",
                task_id=opt_str(created.get("id"), "id"),
                key=opt_str(created.get("custom_id"), "custom_id"),
                rejected=rejected,
            )
        )
    return results


def _custom_refs(task: dict[str, Any]) -> list[tuple[Any, Any]]:
    refs = [
        (c.get("id") or c.get("name"), c.get("value"))
        for c in task.get("custom_fields") or []
        if isinstance(c, dict)
    ]
    return refs + [
        (k, v)
        for k, v in task.items()
        if k not in CORE_FIELDS
        and k
        not in ("id", "custom_fields", "markdown_description", "markdown_content", "text_content")
    ]
