"""Jira Cloud (platform REST API v3) ticket connector.

Endpoints used (all in the platform v3 OpenAPI description):
``GET /rest/api/3/field``, ``GET /rest/api/3/myself`` (time zone for JQL dates),
``POST /rest/api/3/search/jql``, ``GET/PUT /rest/api/3/issue/{id}``,
``GET/POST /rest/api/3/issue/{id}/transitions``. Auth is Basic ``email:api_token``.

Errors: see :mod:`integrations.tickets.errors` (``RequestRejected`` carries Jira's
``errorMessages``/``errors``; ``PaginationError`` for a repeated ``nextPageToken`` or more
than ``max_pages`` pages).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import SecretStr

from integrations.tickets.adf import adf_to_markdown, is_adf, markdown_to_adf
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
from integrations.tickets.errors import (
    InvalidRequest,
    NotFound,
    PaginationError,
    RequestRejected,
)
from integrations.tickets.http import (
    HttpSession,
    RetryPolicy,
    parse_iso_reset,
    rate_limit_policy,
)

__all__ = ["JiraConnector", "jira_retry_policy"]

API = "/rest/api/3"
RICH_TEXT_SYSTEM_FIELDS = frozenset({"description", "environment"})
TEXTAREA = "com.atlassian.jira.plugin.system.customfieldtypes:textarea"
REQUIRED_FIELDS = frozenset({"summary", "issuetype", "project"})


def jira_retry_policy(**overrides: Any) -> RetryPolicy:
    """Retry policy honouring ``Retry-After`` and Jira's ISO 8601 ``X-RateLimit-Reset``."""
    return rate_limit_policy("X-RateLimit-Reset", parse_iso_reset, **overrides)


def _jql_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_jira_time(value: str) -> datetime:
    """Jira timestamps (``2024-01-31T10:00:00.000+0000``) as aware datetimes."""
    fixed = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value.replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(fixed)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class JiraConnector:
    """Read and write the issues of one project and issue type."""

    def __init__(
        self,
        api_url: str,
        api_username: str,
        api_token: str | SecretStr,
        project_code: str,
        ticket_type: str,
        *,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = 100,
        max_pages: int = 1000,
        concurrency: int = 4,
        progress: Progress | None = None,
    ) -> None:
        token = api_token.get_secret_value() if isinstance(api_token, SecretStr) else api_token
        basic = base64.b64encode(f"{api_username}:{token}".encode()).decode("ascii")
        self.http = HttpSession(
            api_url,
            {"Authorization": f"Basic {basic}", "Accept": "application/json"},
            client=client,
            retry=retry if retry is not None else jira_retry_policy(),
        )
        self.project_code = project_code
        self.ticket_type = ticket_type
        self.page_size = page_size
        self.max_pages = max_pages
        self.concurrency = concurrency
        self.progress = progress
        self._fields: dict[str, TicketField] | None = None
        self._zone: tzinfo | None = None

    # ------------------------------------------------------------------ reading

    def read_attributes(self) -> list[TicketField]:
        """All fields (system and custom) with schema types, names from a search merged in."""
        fields = self._field_map(refresh=True)
        body = {
            "jql": self._jql(),
            "maxResults": 1,
            "fields": ["*all"],
            "expand": "names,schema",
        }
        page = self.http.request("POST", f"{API}/search/jql", json=body).json()
        names: dict[str, str] = page.get("names") or {}
        schemas: dict[str, dict[str, Any]] = page.get("schema") or {}
        for field_id, name in names.items():
            if field_id not in fields:
                fields[field_id] = self._to_field(
                    {
                        "id": field_id,
                        "name": name,
                        "schema": schemas.get(field_id) or {},
                        "custom": field_id.startswith("customfield_"),
                    }
                )
        return sorted(fields.values(), key=lambda f: (f.custom, f.id))

    def read_tasks(
        self,
        limit: int | None = None,
        updated_since: datetime | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Issues of the project and type, oldest update first, deduplicated by id.

        Raises:
            PaginationError: a ``nextPageToken`` came back twice or paging exceeded
                ``max_pages``.
        """
        wanted = list(fields) if fields else ["*all"]
        if "updated" not in wanted and not any(f.startswith("*") for f in wanted):
            wanted.append("updated")  # needed for incremental cursors
        return self._search(self._jql(updated_since), wanted, limit)

    def _jql(self, updated_since: datetime | None = None, ids: Sequence[str] = ()) -> str:
        clauses = [
            f"project = {_jql_quote(self.project_code)}",
            f"issuetype = {_jql_quote(self.ticket_type)}",
        ]
        if updated_since is not None:
            # JQL reads dates in the user's time zone at minute precision: convert, round
            # down; the overlap is harmless (duplicates are dropped, unchanged values ignored)
            local = updated_since.astimezone(self._user_zone())
            clauses.append(f"updated >= {_jql_quote(local.strftime('%Y-%m-%d %H:%M'))}")
        if ids:
            clauses = [f"issuekey in ({', '.join(_jql_quote(i) for i in ids)})"]
        return " AND ".join(clauses) + " ORDER BY updated ASC, id ASC"

    def _search(self, jql: str, fields: list[str], limit: int | None) -> list[dict[str, Any]]:
        by_id: dict[str, dict[str, Any]] = {}
        token: str | None = None
        seen_tokens: set[str] = set()
        for page_number in range(1, self.max_pages + 1):
            size = self.page_size if limit is None else min(self.page_size, limit - len(by_id))
            body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": max(1, size)}
            if token is not None:
                body["nextPageToken"] = token
            page = self.http.request("POST", f"{API}/search/jql", json=body).json()
            issues = page.get("issues") or []
            for issue in issues:
                by_id[str(issue["id"])] = issue  # a later copy is fresher
            if self.progress is not None:
                self.progress("read", len(by_id), limit)
            if limit is not None and len(by_id) >= limit:
                return list(by_id.values())[:limit]
            token = page.get("nextPageToken")
            if page.get("isLast") or not token or not issues:
                return list(by_id.values())
            if token in seen_tokens:
                raise PaginationError(
                    f"Jira returned nextPageToken {token!r} twice (page {page_number}); "
                    "stopping to avoid a loop"
                )
            seen_tokens.add(token)
        raise PaginationError(f"Jira search exceeded {self.max_pages} pages for JQL {jql!r}")

    def task_id(self, task: dict[str, Any]) -> str:
        """The issue id (or key when only a key is given)."""
        value = task.get("id") or task.get("key")
        if not value:
            raise InvalidRequest("Jira task has neither 'id' nor 'key'")
        return str(value)

    def updated_at(self, task: dict[str, Any]) -> datetime | None:
        """``fields.updated`` as an aware datetime."""
        value = (task.get("fields") or {}).get("updated")
        return parse_jira_time(value) if value else None

    # ------------------------------------------------------------------ writing

    def write_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False
    ) -> list[WriteResult]:
        """Send only changed fields; status through transitions; one result per issue.

        Each task is ``{"id" or "key": ..., "fields": {field_id: value}}``. Rich-text fields
        accept Markdown (converted to ADF) or ADF. ``dry_run`` reads current values and
        returns the diff without writing.
        """
        results: list[WriteResult] = []
        valid: list[dict[str, Any]] = []
        for task in tasks:
            try:
                self.task_id(task)
                valid.append(task)
            except InvalidRequest as exc:
                results.append(WriteResult(task_id="?", status="failed", error=str(exc)))
        merged = merge_by_id(valid, self.task_id)
        meta = self._field_map()
        wanted = sorted({f for t in merged.values() for f in (t.get("fields") or {})} | {"status"})
        current = self._current(list(merged), [self._resolve(f, meta) or f for f in wanted])

        # "10001" and "PRJ-1" may name one issue: merge again by the real id
        def real_id(task: dict[str, Any]) -> str:
            issue = current.get(self.task_id(task))
            return str(issue["id"]) if issue else self.task_id(task)

        merged = {self.task_id(t): t for t in merge_by_id(merged.values(), real_id).values()}

        def one(key: str, task: dict[str, Any]) -> WriteResult:
            return self._write_one(key, task, current.get(key), meta, dry_run)

        return results + run_writes(
            merged, one, self.concurrency, on_done=write_progress(self.progress)
        )

    def _current(self, keys: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        """Current issues by the id or key the caller used: one search per 100 issues."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            chunk = keys[start : start + 100]
            try:
                issues = self._search(self._jql(ids=chunk), fields, None)
            except RequestRejected:
                # Jira rejects the whole JQL when one key does not exist: fetch one by one.
                issues = []
                for key in chunk:
                    try:
                        response = self.http.request(
                            "GET", f"{API}/issue/{key}", params={"fields": ",".join(fields)}
                        )
                    except (NotFound, RequestRejected):
                        continue  # reported per task as "not found"
                    issues.append(response.json())
            for issue in issues:
                found[str(issue["id"])] = issue
                found[str(issue.get("key"))] = issue
        return found

    def _write_one(
        self,
        key: str,
        task: dict[str, Any],
        issue: dict[str, Any] | None,
        meta: dict[str, TicketField],
        dry_run: bool,
    ) -> WriteResult:
        if issue is None:
            return WriteResult(task_id=key, status="failed", error=f"issue {key} not found")
        remote = issue.get("fields") or {}
        changes: dict[str, FieldChange] = {}
        rejected: dict[str, str] = {}
        payload: dict[str, Any] = {}
        target_status: str | None = None
        for name, value in (task.get("fields") or {}).items():
            field_id = self._resolve(name, meta)
            if field_id is None:
                rejected[name] = "unknown Jira field"
                continue
            if field_id in REQUIRED_FIELDS and value in (None, "", [], {}):
                return WriteResult(
                    task_id=key, status="failed", error=f"{field_id} must not be empty"
                )
            old = remote.get(field_id)
            if field_id == "status":
                target = value.get("name") if isinstance(value, dict) else value
                if not isinstance(target, str) or not target.strip():
                    return WriteResult(
                        task_id=key, status="failed", error="status must not be empty"
                    )
                if (old or {}).get("name", "").casefold() != target.casefold():
                    target_status = target
                    changes["status"] = FieldChange(old=(old or {}).get("name"), new=target)
                continue
            if meta[field_id].rich_text:
                new_doc = self._to_adf(value)
                if adf_to_markdown(old if is_adf(old) else None) != adf_to_markdown(new_doc):
                    payload[field_id] = new_doc
                    changes[field_id] = FieldChange(old=old, new=new_doc)
                continue
            if value in ("", []) and old in (None, "", []):
                continue
            if not same_value(old, value):
                payload[field_id] = value
                changes[field_id] = FieldChange(old=old, new=value)
        if not changes:
            all_rejected = bool(rejected) and len(rejected) == len(task.get("fields") or {})
            status = "failed" if all_rejected else "unchanged"
            error = "no field could be written" if all_rejected else None
            return WriteResult(task_id=key, status=status, rejected=rejected, error=error)
        issue_id = str(issue["id"])
        # looked up before any write (and on dry runs): a missing transition fails the task
        transition_id = self._transition_id(issue_id, target_status) if target_status else None
        if dry_run:
            return WriteResult(task_id=key, status="planned", changes=changes, rejected=rejected)
        if payload:
            self.http.request("PUT", f"{API}/issue/{issue_id}", json={"fields": payload})
        if transition_id is not None:
            self.http.request(
                "POST",
                f"{API}/issue/{issue_id}/transitions",
                json={"transition": {"id": transition_id}},
                idempotent=False,
            )
        return WriteResult(task_id=key, status="updated", changes=changes, rejected=rejected)

    def _transition_id(self, issue_id: str, target: str) -> str:
        data = self.http.request("GET", f"{API}/issue/{issue_id}/transitions").json()
        transitions = data.get("transitions") or []
        for transition in transitions:
            to_name = (transition.get("to") or {}).get("name", "")
            if target.casefold() in (
                to_name.casefold(),
                str(transition.get("name", "")).casefold(),
            ):
                return str(transition["id"])
        available = ", ".join(sorted((t.get("to") or {}).get("name", "?") for t in transitions))
        raise InvalidRequest(
            f"issue {issue_id}: no transition to status {target!r} "
            f"(available: {available or 'none'})"
        )

    @staticmethod
    def _to_adf(value: Any) -> dict[str, Any] | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if is_adf(value):
            return dict(value)
        if isinstance(value, str):
            return markdown_to_adf(value)
        raise InvalidRequest(f"rich-text value must be Markdown or ADF, got {type(value).__name__}")

    def _user_zone(self) -> tzinfo:
        """The API user's time zone (``GET /rest/api/3/myself``), UTC when unknown."""
        if self._zone is None:
            name = self.http.request("GET", f"{API}/myself").json().get("timeZone")
            try:
                self._zone = ZoneInfo(name) if name else UTC
            except (ValueError, ZoneInfoNotFoundError):
                self._zone = UTC
        return self._zone

    # ------------------------------------------------------------------ field metadata

    def _field_map(self, refresh: bool = False) -> dict[str, TicketField]:
        if self._fields is None or refresh:
            raw = self.http.request("GET", f"{API}/field").json()
            self._fields = {f["id"]: self._to_field(f) for f in raw}
        return dict(self._fields)

    @staticmethod
    def _resolve(name: str, meta: dict[str, TicketField]) -> str | None:
        if name in meta:
            return name
        folded = name.casefold()
        return next((f.id for f in meta.values() if f.name.casefold() == folded), None)

    @staticmethod
    def _to_field(raw: dict[str, Any]) -> TicketField:
        schema = raw.get("schema") or {}
        custom_type = schema.get("custom")
        return TicketField(
            id=raw["id"],
            name=raw.get("name") or raw["id"],
            custom=bool(raw.get("custom")),
            type=schema.get("type"),
            items=schema.get("items"),
            custom_type=custom_type,
            rich_text=raw["id"] in RICH_TEXT_SYSTEM_FIELDS or custom_type == TEXTAREA,
        )
