"""Jira Cloud (platform REST API v3) ticket connector: reading, comments, field metadata.

Endpoints used (all in the platform v3 OpenAPI description): ``GET /rest/api/3/field``,
``GET /rest/api/3/myself`` (time zone for JQL dates), ``POST /rest/api/3/search/jql``
(any JQL; ``nextPageToken`` paging), ``POST /rest/api/3/issue/bulkfetch`` (known keys, 100
per request), ``GET/POST /rest/api/3/issue/{key}/comment``; writing and creating are in
`integrations.tickets.jira_write`. Auth is Basic ``email:api_token``.

Errors: see `integrations.tickets.errors` (``RequestRejected`` carries Jira's
``errorMessages``/``errors``; ``PaginationError`` for a repeated ``nextPageToken`` or more
than ``max_pages`` pages; ``UnexpectedResponse`` names the field of a malformed response).
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

from integrations.tickets.adf import AdfError, adf_to_markdown, is_adf, markdown_to_adf
from integrations.tickets.base import Comment, CreateResult, Progress, TicketField, WriteResult
from integrations.tickets.errors import InvalidRequest, PaginationError, UnexpectedResponse
from integrations.tickets.http import HttpSession, RetryPolicy, parse_iso_reset, rate_limit_policy
from integrations.tickets.jira_write import create_tasks, write_tasks
from integrations.tickets.responses import (
    as_dict,
    as_list,
    json_body,
    opt_bool,
    opt_int,
    opt_str,
    opt_time,
)

__all__ = ["JiraConnector", "jira_retry_policy"]

API = "/rest/api/3"
RICH_TEXT_SYSTEM_FIELDS = frozenset({"description", "environment"})
TEXTAREA = "com.atlassian.jira.plugin.system.customfieldtypes:textarea"
BULK_FETCH = 100  # issues per bulkfetch request (the endpoint's limit)
ID_PAGE = 5000  # issues per search page when only ids/keys are asked for (the API's maximum)
_ORDER_BY = re.compile(r"\s+ORDER\s+BY\s+.*$", re.I | re.S)


def jira_retry_policy(**overrides: Any) -> RetryPolicy:
    """Retry policy honouring ``Retry-After`` and Jira's ISO 8601 ``X-RateLimit-Reset``."""
    return rate_limit_policy("X-RateLimit-Reset", parse_iso_reset, **overrides)


def jql_quote(value: str) -> str:
    """A JQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_jira_time(value: str) -> datetime:
    """Jira timestamps (``2024-01-31T10:00:00.000+0000``) as aware datetimes."""
    parsed = opt_time(value, "timestamp")
    assert parsed is not None
    return parsed


class JiraConnector:
    """Read and write the issues a JQL query selects (by default one project and type).

    Args:
        jql: the issues this connector works on; default
            ``project = <project_code> AND issuetype = <ticket_type>``. Any JQL works; an
            ``ORDER BY`` in it is replaced by ``updated, id`` when reading for a sync.
        project_code, ticket_type: where `create_tasks` puts new issues (and the
            default JQL).
    """

    def __init__(
        self,
        api_url: str,
        api_username: str,
        api_token: str | SecretStr,
        project_code: str,
        ticket_type: str,
        *,
        jql: str | None = None,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = 100,
        max_pages: int = 1000,
        concurrency: int = 4,
        bulk_size: int = 50,
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
        default = f"project = {jql_quote(project_code)} AND issuetype = {jql_quote(ticket_type)}"
        self.jql = jql or default
        self.page_size = page_size
        self.max_pages = max_pages
        self.concurrency = concurrency
        self.bulk_size = min(50, bulk_size)  # POST /issue/bulk takes at most 50
        self.progress = progress
        self._fields: dict[str, TicketField] | None = None
        self._zone: tzinfo | None = None

    updated_path = "fields.updated"

    # ------------------------------------------------------------------ reading

    def read_attributes(self) -> list[TicketField]:
        """All fields (system and custom) with schema types, names from a search merged in."""
        fields = self.field_map(refresh=True)
        body = {"jql": self.jql, "maxResults": 1, "fields": ["*all"], "expand": "names,schema"}
        page = as_dict(self._post("search/jql", body), "search")
        names = as_dict(page.get("names"), "names")
        schemas = as_dict(page.get("schema"), "schema")
        for field_id, name in names.items():
            if field_id not in fields:
                fields[field_id] = _to_field(
                    {
                        "id": field_id,
                        "name": name,
                        "schema": schemas.get(field_id),
                        "custom": field_id.startswith("customfield_"),
                    },
                    f"names.{field_id}",
                )
        return sorted(fields.values(), key=lambda f: (f.custom, f.id))

    def read_tasks(
        self,
        limit: int | None = None,
        updated_since: datetime | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Issues the connector's JQL selects, oldest update first, deduplicated by id.

        ``updated_since`` adds ``updated >= <that minute, in the API user's time zone>``
        (JQL's precision; the overlap is harmless: duplicates and unchanged values drop out).

        Raises:
            PaginationError: a ``nextPageToken`` came back twice or paging exceeded
                ``max_pages``.
        """
        wanted = list(fields) if fields else ["*all"]
        if "updated" not in wanted and not any(f.startswith("*") for f in wanted):
            wanted.append("updated")  # needed for incremental cursors
        base = _ORDER_BY.sub("", self.jql).strip()
        clauses = [f"({base})" if base else ""]
        if updated_since is not None:
            local = updated_since.astimezone(self.user_zone())
            clauses.append(f"updated >= {jql_quote(local.strftime('%Y-%m-%d %H:%M'))}")
        jql = " AND ".join(c for c in clauses if c) + " ORDER BY updated ASC, id ASC"
        return self.search(jql, fields=wanted, limit=limit)

    def search(
        self, jql: str, *, fields: Sequence[str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every issue any JQL selects (paged by ``nextPageToken``), deduplicated by id.

        A page may be empty yet not the last (``isLast: false`` with a token): paging
        goes on until ``isLast`` or no token.
        """
        wanted = list(fields) if fields else ["*all"]
        size_cap = ID_PAGE if set(wanted) <= {"id", "key"} else self.page_size
        by_id: dict[str, dict[str, Any]] = {}
        token: str | None = None
        seen_tokens: set[str] = set()
        for page_number in range(1, self.max_pages + 1):
            size = size_cap if limit is None else min(size_cap, limit - len(by_id))
            body: dict[str, Any] = {"jql": jql, "fields": wanted, "maxResults": max(1, size)}
            if token is not None:
                body["nextPageToken"] = token
            page = as_dict(self._post("search/jql", body), "search")
            for n, issue in enumerate(as_list(page.get("issues"), "issues")):
                issue = as_dict(issue, f"issues[{n}]")
                by_id[self.task_id(issue, f"issues[{n}]")] = issue  # a later copy is fresher
            if self.progress is not None:
                self.progress("read", len(by_id), limit)
            if limit is not None and len(by_id) >= limit:
                return list(by_id.values())[:limit]
            token = opt_str(page.get("nextPageToken"), "nextPageToken")
            if opt_bool(page.get("isLast"), "isLast") or not token:
                return list(by_id.values())
            if token in seen_tokens:
                raise PaginationError(
                    f"Jira returned nextPageToken {token!r} twice (page {page_number}); "
                    "stopping to avoid a loop"
                )
            seen_tokens.add(token)
        raise PaginationError(f"Jira search exceeded {self.max_pages} pages for JQL {jql!r}")

    def fetch(
        self, keys: Sequence[str], fields: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Known issues by id or key, 100 per ``issue/bulkfetch`` request; an issue that
        does not exist (or is not visible) is simply absent. The result maps both the id
        and the key of each issue found."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(str(k) for k in keys))
        for start in range(0, len(unique), BULK_FETCH):
            body = {
                "issueIdsOrKeys": unique[start : start + BULK_FETCH],
                "fields": list(fields) if fields else ["*all"],
            }
            page = as_dict(self._post("issue/bulkfetch", body), "bulkfetch")
            for n, issue in enumerate(as_list(page.get("issues"), "issues")):
                issue = as_dict(issue, f"issues[{n}]")
                found[self.task_id(issue, f"issues[{n}]")] = issue
                for name in ("id", "key"):
                    if (value := opt_str(issue.get(name), f"issues[{n}].{name}")) is not None:
                        found[value] = issue
        return found

    def fetch_tasks(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Known issues by the ids or keys asked for (``issue/bulkfetch``, 100 a request)."""
        found = self.fetch(ids)
        return {str(i): found[str(i)] for i in ids if str(i) in found}

    def scan_ids(self) -> set[str]:
        """Ids and keys of every issue the JQL selects: one id-only search per 5,000."""
        ids: set[str] = set()
        base = _ORDER_BY.sub("", self.jql).strip()
        for n, issue in enumerate(self.search(f"{base} ORDER BY id ASC", fields=["key"])):
            for name in ("id", "key"):
                if (value := opt_str(issue.get(name), f"issues[{n}].{name}")) is not None:
                    ids.add(value)
        return ids

    def task_id(self, task: dict[str, Any], where: str = "task") -> str:
        """The issue id (or key when only a key is given)."""
        value = opt_str(task.get("id"), f"{where}.id") or opt_str(task.get("key"), f"{where}.key")
        if not value:
            raise InvalidRequest(f"{where}: a Jira issue has neither 'id' nor 'key'")
        return value

    def updated_at(self, task: dict[str, Any]) -> datetime | None:
        """``fields.updated`` as an aware datetime (UnexpectedResponse when malformed)."""
        return opt_time(as_dict(task.get("fields"), "fields").get("updated"), "fields.updated")

    # ------------------------------------------------------------------ comments

    def read_comments(self, task_id: str) -> list[Comment]:
        """Every comment of an issue, oldest first (``startAt`` paging, ADF as Markdown)."""
        comments: list[Comment] = []
        for _ in range(self.max_pages):
            params = {"startAt": str(len(comments)), "maxResults": "100", "orderBy": "created"}
            response = self.http.request("GET", f"{API}/issue/{task_id}/comment", params=params)
            page = as_dict(json_body(response, "comments"), "comments")
            batch = as_list(page.get("comments"), "comments")
            for n, raw in enumerate(batch):
                comments.append(_comment(raw, f"comments[{len(comments)}]", n))
            total = opt_int(page.get("total"), "total")
            if not batch or total is None or len(comments) >= total:
                return comments
        raise PaginationError(f"comments of {task_id} exceeded {self.max_pages} pages")

    def add_comment(self, task_id: str, body: str | dict[str, Any]) -> Comment:
        """Add a comment: Markdown (converted to ADF) or an ADF document."""
        document = body if is_adf(body) else markdown_to_adf(str(body))
        response = self.http.request(
            "POST", f"{API}/issue/{task_id}/comment", json={"body": document}, idempotent=False
        )
        return _comment(json_body(response, "comment"), "comment", 0)

    # ------------------------------------------------------------------ writing

    def write_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False, force: bool = False
    ) -> list[WriteResult]:
        """See `integrations.tickets.jira_write.write_tasks`."""
        return write_tasks(self, tasks, dry_run=dry_run, force=force)

    def create_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False
    ) -> list[CreateResult]:
        """See `integrations.tickets.jira_write.create_tasks`."""
        return create_tasks(self, tasks, dry_run=dry_run)

    # ------------------------------------------------------------------ plumbing

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return json_body(self.http.request("POST", f"{API}/{path}", json=body), path)

    def user_zone(self) -> tzinfo:
        """The API user's time zone (``GET /rest/api/3/myself``), UTC when unknown."""
        if self._zone is None:
            me = as_dict(json_body(self.http.request("GET", f"{API}/myself"), "myself"), "myself")
            name = opt_str(me.get("timeZone"), "timeZone")
            try:
                self._zone = ZoneInfo(name) if name else UTC
            except (ValueError, ZoneInfoNotFoundError):
                self._zone = UTC
        return self._zone

    def field_map(self, refresh: bool = False) -> dict[str, TicketField]:
        """Every field by id (``GET /field``, read once)."""
        if self._fields is None or refresh:
            raw = as_list(json_body(self.http.request("GET", f"{API}/field"), "field"), "fields")
            fields = [_to_field(f, f"fields[{n}]") for n, f in enumerate(raw)]
            self._fields = {f.id: f for f in fields}
        return dict(self._fields)

    @staticmethod
    def resolve(name: str, meta: dict[str, TicketField]) -> str | None:
        """The id of the field called ``name`` (id or name, any case), or None."""
        if name in meta:
            return name
        folded = name.casefold()
        return next((f.id for f in meta.values() if f.name.casefold() == folded), None)


def _to_field(raw: Any, where: str) -> TicketField:
    field = as_dict(raw, where)
    schema = as_dict(field.get("schema"), f"{where}.schema")
    field_id = opt_str(field.get("id"), f"{where}.id") or opt_str(field.get("key"), f"{where}.key")
    if not field_id:
        raise UnexpectedResponse(f"{where}.id: a field without id or key", field=f"{where}.id")
    custom_type = opt_str(schema.get("custom"), f"{where}.schema.custom")
    return TicketField(
        id=field_id,
        name=opt_str(field.get("name"), f"{where}.name") or field_id,
        custom=bool(opt_bool(field.get("custom"), f"{where}.custom")),
        type=opt_str(schema.get("type"), f"{where}.schema.type"),
        items=opt_str(schema.get("items"), f"{where}.schema.items"),
        custom_type=custom_type,
        rich_text=field_id in RICH_TEXT_SYSTEM_FIELDS or custom_type == TEXTAREA,
    )


def _comment(raw: Any, where: str, n: int) -> Comment:
    comment = as_dict(raw, where)
    body = comment.get("body")
    try:
        text = adf_to_markdown(body, f"{where}.body") if is_adf(body) else str(body or "")
    except AdfError as exc:
        raise UnexpectedResponse(str(exc), field=f"{where}.body") from exc
    author = as_dict(comment.get("author"), f"{where}.author")
    name = opt_str(author.get("displayName"), f"{where}.author.displayName")
    account = opt_str(author.get("accountId"), f"{where}.author.accountId")
    return Comment(
        id=opt_str(comment.get("id"), f"{where}.id") or f"#{n}",
        body=text,
        author=name or account,
        created=opt_time(comment.get("created"), f"{where}.created"),
        raw=comment,
    )
