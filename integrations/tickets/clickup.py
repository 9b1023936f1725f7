"""ClickUp (API v2) ticket connector: reading with filters, comments, creating.

Endpoints used (all in ClickUp's v2 OpenAPI description): ``GET /v2/list/{id}/task`` and
``GET /v2/team/{team_id}/task`` (pages of 100, with filters), ``GET /v2/list/{id}/field``,
``POST /v2/list/{id}/task``, ``GET/POST /v2/task/{id}/comment``; updates are in
`integrations.tickets.clickup_write`. Auth is the token itself in ``Authorization``.
With ``custom_task_ids=True`` tasks are addressed by their custom ids (the API's
``custom_task_ids=true&team_id=…``).

Errors: see `integrations.tickets.errors` (ClickUp's ``{"err", "ECODE"}`` bodies end
up in ``RequestRejected.error_messages``; ``UnexpectedResponse`` names the field of a
malformed response).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, SecretStr

from integrations.tickets.base import Comment, CreateResult, Progress, TicketField, WriteResult
from integrations.tickets.clickup_fields import field_options, to_ms
from integrations.tickets.clickup_write import CORE_FIELDS, create_tasks, write_tasks
from integrations.tickets.errors import (
    InvalidRequest,
    NotFound,
    PaginationError,
    UnexpectedResponse,
)
from integrations.tickets.http import HttpSession, RetryPolicy, parse_unix_reset, rate_limit_policy
from integrations.tickets.responses import as_dict, as_list, json_body, opt_bool, opt_ms, opt_str

__all__ = ["ClickUpConnector", "ClickUpFilter", "clickup_retry_policy"]

DEFAULT_API_URL = "https://api.clickup.com/api/v2"
PAGE_SIZE = 100  # fixed by ClickUp
UnknownFields = Literal["report", "append_to_description"]


def clickup_retry_policy(**overrides: Any) -> RetryPolicy:
    """Retry policy honouring ``Retry-After`` and ClickUp's Unix ``X-RateLimit-Reset``."""
    return rate_limit_policy("X-RateLimit-Reset", parse_unix_reset, **overrides)


class ClickUpFilter(BaseModel):
    """Which tasks a read selects (ClickUp's own filters; dates as datetimes or Unix ms).

    ``archived`` and ``custom_fields`` (``[{"field_id", "operator", "value"}]``) work on
    list reads; ``list_ids``/``space_ids`` on workspace (team) reads.
    """

    statuses: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    due_date_gt: datetime | int | None = None
    due_date_lt: datetime | int | None = None
    date_created_gt: datetime | int | None = None
    date_created_lt: datetime | int | None = None
    date_updated_gt: datetime | int | None = None
    date_updated_lt: datetime | int | None = None
    include_closed: bool = True
    subtasks: bool = True
    archived: bool | None = None
    custom_fields: list[dict[str, Any]] = Field(default_factory=list)
    list_ids: list[str] = Field(default_factory=list)
    space_ids: list[str] = Field(default_factory=list)

    def params(self, team: bool) -> list[tuple[str, str]]:
        """Query parameters, named as the list or the team endpoint names them."""
        out: list[tuple[str, str]] = [
            ("subtasks", str(self.subtasks).lower()),
            ("include_closed", str(self.include_closed).lower()),
            ("include_markdown_description", "true"),
        ]
        suffix = "[]" if team else ""  # the description spells them so, per endpoint
        for name in ("statuses", "assignees", "tags"):
            out += [(f"{name}{suffix}", str(v)) for v in getattr(self, name)]
        for name in (
            "due_date_gt",
            "due_date_lt",
            "date_created_gt",
            "date_created_lt",
            "date_updated_gt",
            "date_updated_lt",
        ):
            if (value := getattr(self, name)) is not None:
                out.append((name, str(to_ms(value, name))))
        if self.custom_fields:
            out.append(("custom_fields", json.dumps(self.custom_fields)))
        if team:
            out += [("list_ids[]", v) for v in self.list_ids]
            out += [("space_ids[]", v) for v in self.space_ids]
        elif self.archived is not None:
            out.append(("archived", str(self.archived).lower()))
        return out


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
        filters: ClickUpFilter | None = None,
        custom_task_ids: bool = False,
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
        self.filters = filters or ClickUpFilter()
        self.custom_task_ids = custom_task_ids
        self._custom: list[dict[str, Any]] | None = None

    updated_path = "date_updated"
    #: ClickUp lists no ids alone: finding deletions reads every task anyway, so a sync
    #: reads everything once instead of the changes and then everything
    scan_reads_everything = True

    # ------------------------------------------------------------------ reading

    def read_attributes(self) -> list[TicketField]:
        """Core fields, plus the list's custom fields (with their options) when a list is set."""
        out = [
            TicketField(id=k, name=k, type=t, rich_text=t == "markdown")
            for k, t in CORE_FIELDS.items()
        ]
        for field in self.custom_fields(refresh=True):
            out.append(
                TicketField(
                    id=field["id"],
                    name=field["name"],
                    custom=True,
                    type=field["type"],
                    options=field_options(field),
                )
            )
        return out

    def read_tasks(
        self,
        limit: int | None = None,
        updated_since: datetime | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Tasks the connector's filters select (subtasks and closed ones included by
        default), deduplicated by id; ``updated_since`` adds ``date_updated_gt``.

        ``fields`` is accepted for symmetry; ClickUp always returns whole tasks.
        """
        filters = self.filters
        if updated_since is not None:
            # date_updated_gt is strict: one ms earlier keeps a task updated at the cursor
            since = to_ms(updated_since, "updated_since")
            filters = filters.model_copy(update={"date_updated_gt": (since or 0) - 1})
        return self.search(filters, limit=limit)

    def search(self, filters: ClickUpFilter, limit: int | None = None) -> list[dict[str, Any]]:
        """Every task ``filters`` select, page by page (100 per page, 0-based)."""
        team = not self.list_id
        path = f"/team/{self.team_id}/task" if team else f"/list/{self.list_id}/task"
        params = filters.params(team)
        by_id: dict[str, dict[str, Any]] = {}
        for page in range(self.max_pages):
            query = httpx.QueryParams([*params, ("page", str(page))])
            response = self.http.request("GET", path, params=query)
            data = as_dict(json_body(response, path), "tasks page")
            tasks = as_list(data.get("tasks"), "tasks")
            for n, task in enumerate(tasks):
                task = as_dict(task, f"tasks[{n}]")
                by_id[self.task_id(task, f"tasks[{n}]")] = task
            if self.progress is not None:
                self.progress("read", len(by_id), limit)
            if limit is not None and len(by_id) >= limit:
                return list(by_id.values())[:limit]
            last_page = opt_bool(data.get("last_page"), "last_page")
            if len(tasks) < PAGE_SIZE or (not team and last_page):
                return list(by_id.values())
        raise PaginationError(f"ClickUp paging exceeded {self.max_pages} pages on {path}")

    def fetch_tasks(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Known tasks by id, one ``GET /task/{id}`` each (ClickUp has no bulk read)."""
        found: dict[str, dict[str, Any]] = {}
        params = self.task_params({"include_markdown_description": "true"})
        for task_id in dict.fromkeys(str(i) for i in ids):
            try:
                response = self.http.request("GET", f"/task/{task_id}", params=params)
            except NotFound:
                continue
            found[task_id] = as_dict(json_body(response, "task"), task_id)
        return found

    def scan_ids(self) -> set[str]:
        """Ids (and custom ids) of every task the filters select: a full read, as ClickUp
        has no id-only listing."""
        ids: set[str] = set()
        for n, task in enumerate(self.search(self.filters)):
            ids.add(str(task.get("id")))
            if (custom := opt_str(task.get("custom_id"), f"tasks[{n}].custom_id")) is not None:
                ids.add(custom)
        return ids

    def task_id(self, task: dict[str, Any], where: str = "task") -> str:
        """The task id (the custom id when the connector addresses tasks by custom ids)."""
        if self.custom_task_ids and (
            custom := opt_str(task.get("custom_id"), f"{where}.custom_id")
        ):
            return custom
        value = opt_str(task.get("id"), f"{where}.id")
        if not value:
            raise InvalidRequest(f"{where}: a ClickUp task has no 'id'")
        return value

    def updated_at(self, task: dict[str, Any]) -> datetime | None:
        """``date_updated`` (Unix milliseconds) as an aware datetime."""
        value = opt_ms(task.get("date_updated"), "date_updated")
        return None if value is None else datetime.fromtimestamp(value / 1000, UTC)

    def task_params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Query parameters addressing one task (custom ids need the team)."""
        params = dict(extra or {})
        if self.custom_task_ids:
            params.update(custom_task_ids="true", team_id=self.team_id)
        return params

    # ------------------------------------------------------------------ comments

    def read_comments(self, task_id: str) -> list[Comment]:
        """Every comment of a task, oldest first (ClickUp pages 25 newest first; older
        ones by ``start``/``start_id`` of the oldest seen)."""
        comments: list[Comment] = []
        seen: set[str] = set()
        params = self.task_params()
        for _ in range(self.max_pages):
            response = self.http.request("GET", f"/task/{task_id}/comment", params=params)
            data = as_dict(json_body(response, "comments"), "comments")
            batch = [
                _comment(raw, f"comments[{n}]")
                for n, raw in enumerate(as_list(data.get("comments"), "comments"))
            ]
            fresh = [c for c in batch if c.id not in seen]
            if not fresh:
                break
            comments.extend(fresh)
            seen.update(c.id for c in fresh)
            oldest = fresh[-1]
            if len(batch) < 25 or oldest.created is None:
                break
            start = str(int(oldest.created.timestamp() * 1000))
            params = self.task_params({"start": start, "start_id": oldest.id})
        return sorted(comments, key=lambda c: c.created or datetime.min.replace(tzinfo=UTC))

    def add_comment(self, task_id: str, body: str | dict[str, Any]) -> Comment:
        """Add a comment (text; ClickUp shows Markdown as written)."""
        if not isinstance(body, str):
            raise InvalidRequest("a ClickUp comment is text")
        response = self.http.request(
            "POST",
            f"/task/{task_id}/comment",
            params=self.task_params(),
            json={"comment_text": body, "notify_all": False},
            idempotent=False,
        )
        data = as_dict(json_body(response, "comment"), "comment")
        created = opt_ms(data.get("date"), "date")
        return Comment(
            id=opt_str(data.get("id"), "id") or "",
            body=body,
            created=None if created is None else datetime.fromtimestamp(created / 1000, UTC),
            raw=data,
        )

    # ------------------------------------------------------------------ writing

    def write_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False, force: bool = False
    ) -> list[WriteResult]:
        """See `integrations.tickets.clickup_write.write_tasks` (``force`` is
        accepted for symmetry: ClickUp descriptions are Markdown already)."""
        return write_tasks(self, tasks, dry_run=dry_run)

    def create_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False
    ) -> list[CreateResult]:
        """See `integrations.tickets.clickup_write.create_tasks`."""
        return create_tasks(self, tasks, dry_run=dry_run)

    def custom_fields(self, refresh: bool = False) -> list[dict[str, Any]]:
        """The list's custom field definitions (read once)."""
        if not self.list_id:
            return []
        if self._custom is None or refresh:
            data = as_dict(
                json_body(self.http.request("GET", f"/list/{self.list_id}/field"), "field"),
                "fields",
            )
            fields = []
            for n, raw in enumerate(as_list(data.get("fields"), "fields")):
                field = as_dict(raw, f"fields[{n}]")
                for name in ("id", "name", "type"):
                    if not opt_str(field.get(name), f"fields[{n}].{name}"):
                        raise UnexpectedResponse(
                            f"fields[{n}].{name}: a custom field without {name}",
                            field=f"fields[{n}].{name}",
                        )
                fields.append(field)
            self._custom = fields
        return list(self._custom)


def _comment(raw: Any, where: str) -> Comment:
    comment = as_dict(raw, where)
    user = as_dict(comment.get("user"), f"{where}.user")
    created = opt_ms(comment.get("date"), f"{where}.date")
    text = comment.get("comment_text")
    return Comment(
        id=opt_str(comment.get("id"), f"{where}.id") or "",
        body=opt_str(text, f"{where}.comment_text") or "",
        author=opt_str(user.get("username"), f"{where}.user.username")
        or opt_str(user.get("id"), f"{where}.user.id"),
        created=None if created is None else datetime.fromtimestamp(created / 1000, UTC),
        raw=comment,
    )
