"""ClickUp (API v2) ticket connector.

Endpoints used (all in ClickUp's v2 OpenAPI description): ``GET /v2/list/{id}/task``,
``GET /v2/team/{team_id}/task``, ``GET /v2/list/{id}/field``, ``GET/PUT /v2/task/{id}``,
``POST /v2/task/{id}/field/{field_id}``. Auth is the token itself in ``Authorization``.

Errors: see :mod:`integrations.tickets.errors` (ClickUp's ``{"err", "ECODE"}`` bodies end
up in ``RequestRejected.error_messages``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from integrations.tickets.base import (
    FieldChange,
    Progress,
    TicketField,
    WriteResult,
    merge_by_id,
    run_writes,
    same_value,
    write_progress,
)
from integrations.tickets.clickup_fields import UNCHANGED, custom_value, match_field, to_ms
from integrations.tickets.errors import InvalidRequest, NotFound, PaginationError, RequestRejected
from integrations.tickets.http import (
    HttpSession,
    RetryPolicy,
    parse_unix_reset,
    rate_limit_policy,
)

__all__ = ["ClickUpConnector", "clickup_retry_policy"]

DEFAULT_API_URL = "https://api.clickup.com/api/v2"
PAGE_SIZE = 100  # fixed by ClickUp
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
UnknownFields = Literal["report", "append_to_description"]


def clickup_retry_policy(**overrides: Any) -> RetryPolicy:
    """Retry policy honouring ``Retry-After`` and ClickUp's Unix ``X-RateLimit-Reset``."""
    return rate_limit_policy("X-RateLimit-Reset", parse_unix_reset, **overrides)


class ClickUpConnector:
    """Read and write the tasks of one list, or of a whole workspace (team)."""

    def __init__(
        self,
        api_token: str | SecretStr,
        team_id: str,
        list_id: str | None = None,
        api_url: str = DEFAULT_API_URL,
        *,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 4,
        unknown_fields: UnknownFields = "report",
        max_pages: int = 1000,
        progress: Progress | None = None,
    ) -> None:
        token = api_token.get_secret_value() if isinstance(api_token, SecretStr) else api_token
        self.http = HttpSession(
            api_url,
            {"Authorization": token, "Content-Type": "application/json"},
            client=client,
            retry=retry if retry is not None else clickup_retry_policy(),
        )
        self.team_id = team_id
        self.list_id = list_id
        self.concurrency = concurrency
        self.unknown_fields: UnknownFields = unknown_fields
        self.max_pages = max_pages
        self.progress = progress
        self._custom: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------------ reading

    def read_attributes(self) -> list[TicketField]:
        """Core fields, plus the list's custom fields (with their options) when a list is set."""
        out = [
            TicketField(id=k, name=k, type=t, rich_text=t == "markdown")
            for k, t in CORE_FIELDS.items()
        ]
        for field in self._custom_fields(refresh=True):
            config = field.get("type_config") or {}
            out.append(
                TicketField(
                    id=field["id"],
                    name=field["name"],
                    custom=True,
                    type=field["type"],
                    options=list(config.get("options") or []),
                )
            )
        return out

    def read_tasks(
        self,
        limit: int | None = None,
        updated_since: datetime | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Tasks (subtasks and closed ones included), deduplicated by id.

        ``fields`` is accepted for symmetry; ClickUp always returns whole tasks.
        """
        params: dict[str, str] = {
            "subtasks": "true",
            "include_closed": "true",
            "include_markdown_description": "true",
        }
        if updated_since is not None:
            params["date_updated_gt"] = str(to_ms(updated_since))
        path = f"/list/{self.list_id}/task" if self.list_id else f"/team/{self.team_id}/task"
        by_id: dict[str, dict[str, Any]] = {}
        for page in range(self.max_pages):
            data = self.http.request("GET", path, params={**params, "page": str(page)}).json()
            tasks = data.get("tasks") or []
            for task in tasks:
                by_id[str(task["id"])] = task
            if self.progress is not None:
                self.progress("read", len(by_id), limit)
            if limit is not None and len(by_id) >= limit:
                return list(by_id.values())[:limit]
            if len(tasks) < PAGE_SIZE or (self.list_id and data.get("last_page")):
                return list(by_id.values())
        raise PaginationError(f"ClickUp paging exceeded {self.max_pages} pages on {path}")

    def task_id(self, task: dict[str, Any]) -> str:
        """The task id."""
        if not task.get("id"):
            raise InvalidRequest("ClickUp task has no 'id'")
        return str(task["id"])

    def updated_at(self, task: dict[str, Any]) -> datetime | None:
        """``date_updated`` (Unix milliseconds) as an aware datetime."""
        value = to_ms(task.get("date_updated"))
        return None if value is None else datetime.fromtimestamp(value / 1000, UTC)

    # ------------------------------------------------------------------ writing

    def write_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False
    ) -> list[WriteResult]:
        """Write changed core fields (one PUT) and custom fields (one POST each).

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
        merged = merge_by_id(valid, self.task_id)
        list_fields = self._custom_fields() if self.list_id else []

        def one(key: str, task: dict[str, Any]) -> WriteResult:
            return self._write_one(key, task, list_fields, dry_run)

        return results + run_writes(
            merged, one, self.concurrency, on_done=write_progress(self.progress)
        )

    def _write_one(
        self, key: str, task: dict[str, Any], list_fields: list[dict[str, Any]], dry_run: bool
    ) -> WriteResult:
        current = self.http.request(
            "GET", f"/task/{key}", params={"include_markdown_description": "true"}
        ).json()
        defs = {f["id"]: f for f in list_fields}
        for field in current.get("custom_fields") or []:
            defs.setdefault(field["id"], field)
        values = {f["id"]: f.get("value") for f in current.get("custom_fields") or []}
        body: dict[str, Any] = {}
        posts: dict[str, Any] = {}
        changes: dict[str, FieldChange] = {}
        rejected: dict[str, str] = {}
        unknown: dict[str, Any] = {}
        wanted_custom = [
            (c.get("id") or c.get("name"), c.get("value")) for c in task.get("custom_fields") or []
        ]
        for name, value in task.items():
            if name in ("id", "custom_fields"):
                continue
            core = "description" if name in DESCRIPTION_ALIASES else name
            if core in WRITABLE_CORE:
                self._core_change(core, value, current, body, changes, rejected)
            elif core in CORE_FIELDS:
                rejected[name] = "read-only ClickUp field"
            else:
                wanted_custom.append((name, value))
        for ref, value in wanted_custom:
            field = match_field(str(ref), defs)
            if field is None:
                unknown[str(ref)] = value
                continue
            if field["type"] == "button":
                rejected[field["name"]] = "button fields are never written"
                continue
            try:
                wire = custom_value(field, value, values.get(field["id"]))
            except InvalidRequest as exc:
                rejected[field["name"]] = str(exc)
                continue
            if wire is not UNCHANGED:
                posts[field["id"]] = wire
                changes[field["name"]] = FieldChange(old=values.get(field["id"]), new=wire)
        if unknown:
            if self.unknown_fields == "append_to_description":
                self._append_unknown(unknown, task, current, body, changes)
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
            self.http.request("PUT", f"/task/{key}", json=body)
        for field_id, wire in posts.items():
            name = defs[field_id]["name"]
            try:
                self.http.request("POST", f"/task/{key}/field/{field_id}", json={"value": wire})
            except (RequestRejected, NotFound) as exc:
                # the task is partly written by now: report the field, keep the rest
                rejected[name] = str(exc)
                changes.pop(name, None)
        if not changes:
            return WriteResult(
                task_id=key, status="failed", rejected=rejected, error="no field could be written"
            )
        return WriteResult(task_id=key, status="updated", changes=changes, rejected=rejected)

    def _core_change(
        self,
        name: str,
        value: Any,
        current: dict[str, Any],
        body: dict[str, Any],
        changes: dict[str, FieldChange],
        rejected: dict[str, str],
    ) -> None:
        if name == "name":
            if not isinstance(value, str) or not value.strip():
                rejected[name] = "name must not be empty"
            elif value != current.get("name"):
                body["name"] = value
                changes[name] = FieldChange(old=current.get("name"), new=value)
        elif name == "status":
            target = value.get("status") if isinstance(value, dict) else value
            old = (current.get("status") or {}).get("status")
            if not isinstance(target, str) or not target.strip():
                rejected[name] = "status must not be empty"
            elif str(old or "").casefold() != target.casefold():
                body["status"] = target
                changes[name] = FieldChange(old=old, new=target)
        elif name == "description":
            old = current.get("markdown_description") or current.get("description") or ""
            new = value or ""
            if not same_value(old, new):
                body["markdown_content"] = new if new.strip() else " "
                changes[name] = FieldChange(old=old, new=new)
        elif name == "assignees":
            have = {
                int(a["id"] if isinstance(a, dict) else a) for a in current.get("assignees") or []
            }
            want = {int(a["id"] if isinstance(a, dict) else a) for a in value or []}
            if have != want:
                body["assignees"] = {"add": sorted(want - have), "rem": sorted(have - want)}
                changes[name] = FieldChange(old=sorted(have), new=sorted(want))
        elif name == "priority":
            old_p = current.get("priority") or {}
            old_id = int(old_p["id"]) if isinstance(old_p, dict) and old_p.get("id") else None
            new_id = value.get("id") if isinstance(value, dict) else value
            new_id = int(new_id) if new_id not in (None, "") else None
            if new_id is None and old_id is not None:
                rejected[name] = "clearing the priority is not supported"
            elif new_id != old_id:
                body["priority"] = new_id
                changes[name] = FieldChange(old=old_id, new=new_id)
        else:  # due_date, start_date
            old_ms, new_ms = to_ms(current.get(name)), to_ms(value)
            if new_ms is None and old_ms is not None:
                rejected[name] = f"clearing {name} is not supported"
            elif new_ms != old_ms:
                body[name] = new_ms
                changes[name] = FieldChange(old=old_ms, new=new_ms)

    @staticmethod
    def _append_unknown(
        unknown: dict[str, Any],
        task: dict[str, Any],
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

    def _custom_fields(self, refresh: bool = False) -> list[dict[str, Any]]:
        if not self.list_id:
            return []
        if self._custom is None or refresh:
            data = self.http.request("GET", f"/list/{self.list_id}/field").json()
            self._custom = list(data.get("fields") or [])
        return list(self._custom)
