"""A stateful fake of the Jira Cloud platform REST API v3 (the parts the connector uses).

Behaviour copied from the platform v3 OpenAPI description (``specs/`` beside this module) and
Atlassian's
docs (https://developer.atlassian.com/cloud/jira/platform/rest/v3/):

- ``POST /rest/api/3/search/jql``: ``nextPageToken`` cursor; the last page sets ``isLast``
  and omits the token; at most 100 issues per page when fields are requested; the cursor is
  a position in the *live* ordering, so an issue updated while paging ``ORDER BY updated``
  shows up again later (duplicates across pages); ``names``/``schema`` with ``expand``;
  an unknown key in ``issuekey in (...)`` rejects the whole query with 400 ``errorMessages``.
- ``PUT /rest/api/3/issue/{id}``: 204; ``status`` is silently ignored (it changes only
  through transitions); rich-text fields accept only ADF (400 ``errors`` otherwise); an
  empty summary or an unknown field is a 400 with ``errors``.
- ``GET /rest/api/3/myself`` with the user's ``timeZone``, in which JQL dates are read;
- ``GET/POST /rest/api/3/issue/{id}/transitions``; 404 ``errorMessages`` for unknown issues;
  401 without the right Basic credentials; 429 with ``Retry-After``/``X-RateLimit-Reset``
  whenever the ``throttle`` hook says so.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from integrations.tickets.adf import markdown_to_adf
from integrations.tickets.testing.openapi import jira_validator, validating
from integrations.tickets.testing.throttle import Throttle

__all__ = ["FakeJira"]

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


def _error(
    status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json={"errorMessages": messages or [], "errors": errors or {}})


class FakeJira:
    """In-memory Jira with one project; call it as an ``httpx.MockTransport`` handler."""

    def __init__(
        self,
        *,
        email: str = "ada@example.com",
        token: str = "jira-token",  # noqa: S107 - the fake's own made-up credential
        project: str = "PRJ",
        issue_type: str = "Task",
        latency: float = 0.0,
        throttle: Throttle | None = None,
        time_zone: str = "UTC",
    ) -> None:
        self.time_zone = time_zone
        self.auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
        self.project = project
        self.issue_type = issue_type
        self.latency = latency
        self.throttle = throttle
        self.issues: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.writes: Counter[str] = Counter()
        self.concurrent_writes = 0
        self.on_page: Callable[[int], None] | None = None
        self._in_flight: set[str] = set()
        self._lock = threading.RLock()
        self._clock = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
        self._next_id = 10000
        self._pages = 0

    # ---------------------------------------------------------------- test helpers

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    def add_issue(
        self,
        summary: str,
        *,
        description: str | None = None,
        status: str = "To Do",
        issue_type: str | None = None,
        **custom: Any,
    ) -> str:
        """Create an issue (description as Markdown); returns its id."""
        with self._lock:
            self._next_id += 1
            issue_id = str(self._next_id)
            stamp = self._tick()
            fields: dict[str, Any] = {
                "summary": summary,
                "description": markdown_to_adf(description) if description else None,
                "environment": None,
                "status": {"name": status, "id": STATUSES[status]},
                "priority": {"name": "Medium", "id": "3"},
                "labels": [],
                "issuetype": {"name": issue_type or self.issue_type},
                "project": {"key": self.project},
                "created": stamp,
                "updated": stamp,
                "customfield_10010": None,
                "customfield_10011": None,
                "customfield_10020": None,
            }
            fields.update(custom)
            key = f"{self.project}-{self._next_id - 10000}"
            self.issues[issue_id] = {"id": issue_id, "key": key, "fields": fields}
            return issue_id

    def edit(self, issue_id: str, **fields: Any) -> None:
        """Change an issue as a person in Jira would (bumps ``updated``)."""
        with self._lock:
            self.issues[issue_id]["fields"].update(fields)
            self.issues[issue_id]["fields"]["updated"] = self._tick()

    def find(self, key: str) -> dict[str, Any] | None:
        """The issue with this id or key, or None."""
        return self.issues.get(key) or next(
            (i for i in self.issues.values() if i["key"] == key), None
        )

    # ---------------------------------------------------------------- transport

    def transport(self, *, validate: bool = True) -> httpx.MockTransport:
        """This fake as an httpx transport; every request is first checked against Jira's
        OpenAPI description (a :class:`~integrations.tickets.testing.openapi.SpecViolation`
        fails the call) unless ``validate`` is false."""
        return httpx.MockTransport(validating(self, jira_validator()) if validate else self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.latency and request.method != "PUT":
            time.sleep(self.latency)  # PUT sleeps inside its write window (see _edit)
        if request.headers.get("Authorization") != self.auth:
            return _error(401, ["Client must be authenticated to access this resource."])
        if self.throttle is not None and (asked := self.throttle.check(request)) is not None:
            reset = datetime.now(UTC) + timedelta(seconds=asked)
            return httpx.Response(
                429,
                headers={"Retry-After": str(int(asked)), "X-RateLimit-Reset": reset.isoformat()},
                json={"errorMessages": ["Rate limit exceeded."]},
            )
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        if path == "/rest/api/3/myself" and request.method == "GET":
            return httpx.Response(
                200,
                json={
                    "accountId": "5b10",
                    "emailAddress": "ada@example.com",
                    "timeZone": self.time_zone,
                    "active": True,
                },
            )
        if path == "/rest/api/3/field" and request.method == "GET":
            return httpx.Response(200, json=self._fields())
        if path == "/rest/api/3/search/jql" and request.method == "POST":
            return self._search(body or {})
        match = re.fullmatch(r"/rest/api/3/issue/([^/]+)(/transitions)?", path)
        if match is None:
            return _error(404, [f"No route for {request.method} {path}"])
        issue = self.find(match.group(1))
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        if match.group(2):
            return self._transitions(request.method, issue, body or {})
        if request.method == "GET":
            return httpx.Response(200, json=self._project(issue, None))
        if request.method == "PUT":
            return self._edit(issue, body or {})
        return _error(405, [f"{request.method} not allowed"])

    def _fields(self) -> list[dict[str, Any]]:
        return [
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": fid.startswith("customfield_"),
                "navigable": True,
                "searchable": True,
                "schema": schema,
            }
            for fid, name, schema in SYSTEM_FIELDS + CUSTOM_FIELDS
        ]

    def _project(self, issue: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        out = copy.deepcopy(issue)
        if fields and not any(f.startswith("*") for f in fields):
            out["fields"] = {k: v for k, v in out["fields"].items() if k in fields}
        return out

    def _matching(self, jql: str) -> list[dict[str, Any]] | httpx.Response:
        where, _, order = jql.partition(" ORDER BY ")
        if order and order.strip() not in ("updated ASC, id ASC", "updated ASC"):
            return _error(400, [f"Error in the JQL Query: unsupported ORDER BY {order!r}"])
        issues = list(self.issues.values())
        for clause in where.split(" AND "):
            clause = clause.strip()
            if m := re.fullmatch(r'(project|issuetype) = "((?:[^"\\]|\\.)*)"', clause):
                value = m.group(2).replace('\\"', '"')
                key = "key" if m.group(1) == "project" else "name"
                issues = [i for i in issues if i["fields"][m.group(1)][key] == value]
            elif m := re.fullmatch(r'updated >= "(\d{4}-\d\d-\d\d \d\d:\d\d)"', clause):
                # JQL dates are in the user's time zone (Atlassian JQL docs)
                since = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(
                    tzinfo=ZoneInfo(self.time_zone)
                )
                issues = [i for i in issues if _parse(i["fields"]["updated"]) >= since]
            elif m := re.fullmatch(r"issuekey in \((.*)\)", clause):
                keys = [k.strip().strip('"') for k in m.group(1).split(",")]
                for key in keys:
                    if self.find(key) is None:
                        return _error(
                            400, [f"An issue with key '{key}' does not exist for field 'issuekey'."]
                        )
                found = {self.find(k)["id"] for k in keys}  # type: ignore[index]
                issues = [i for i in issues if i["id"] in found]
            else:
                return _error(400, [f"Error in the JQL Query: cannot parse {clause!r}"])
        return sorted(issues, key=_order)

    def _search(self, body: dict[str, Any]) -> httpx.Response:
        with self._lock:
            matching = self._matching(body.get("jql", ""))
            if isinstance(matching, httpx.Response):
                return matching
            fields = body.get("fields") or ["id"]
            size = min(int(body.get("maxResults", 50)), 100)
            token = body.get("nextPageToken")
            # keyset cursor: (updated, id) of the last issue served, so an issue updated
            # while paging comes back on a later page (a duplicate), none is skipped
            after = tuple(json.loads(base64.b64decode(token))) if token else None
            rest = [i for i in matching if after is None or _order(i) > after]
            page = rest[:size]
            out: dict[str, Any] = {"issues": [self._project(i, fields) for i in page]}
            if len(rest) > size:
                out["nextPageToken"] = base64.b64encode(
                    json.dumps(_order(page[-1])).encode()
                ).decode()
                out["isLast"] = False
            else:
                out["isLast"] = True
            self._pages += 1
            page_number = self._pages
            expand = body.get("expand") or ""
            if "names" in expand:
                out["names"] = {fid: name for fid, name, _ in SYSTEM_FIELDS + CUSTOM_FIELDS}
            if "schema" in expand:
                out["schema"] = {fid: schema for fid, _, schema in SYSTEM_FIELDS + CUSTOM_FIELDS}
        if self.on_page is not None:
            self.on_page(page_number)
        return httpx.Response(200, json=out)

    def _edit(self, issue: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        known = {fid for fid, _, _ in SYSTEM_FIELDS + CUSTOM_FIELDS}
        errors: dict[str, str] = {}
        for name, value in (body.get("fields") or {}).items():
            if name not in known:
                errors[name] = (
                    f"Field '{name}' cannot be set. It is not on the appropriate "
                    "screen, or unknown."
                )
            elif (
                name in RICH
                and value is not None
                and not (isinstance(value, dict) and value.get("type") == "doc")
            ):
                errors[name] = "Operation value must be an Atlassian Document (see ADF)."
            elif name == "summary" and not value:
                errors[name] = "You must specify a summary of the issue."
            elif name == "summary" and len(value) > 255:
                errors[name] = "Summary must be less than 255 characters."
        if errors:
            return _error(400, [], errors)
        with self._lock:
            if issue["id"] in self._in_flight:
                self.concurrent_writes += 1
            self._in_flight.add(issue["id"])
            self.writes[issue["id"]] += 1
        try:
            if self.latency:
                time.sleep(self.latency)
            updates = {k: v for k, v in (body.get("fields") or {}).items() if k != "status"}
            self.edit(issue["id"], **updates)
        finally:
            with self._lock:
                self._in_flight.discard(issue["id"])
        return httpx.Response(204)

    def _transitions(
        self, method: str, issue: dict[str, Any], body: dict[str, Any]
    ) -> httpx.Response:
        current = issue["fields"]["status"]["name"]
        available: list[dict[str, Any]] = [
            {
                "id": tid,
                "name": f"Move to {name}",
                "to": {"name": name, "id": STATUSES[name]},
                "hasScreen": False,
                "isAvailable": True,
            }
            for tid, name in TRANSITIONS.items()
            if name != current
        ]
        if method == "GET":
            return httpx.Response(200, json={"transitions": available})
        wanted = (body.get("transition") or {}).get("id")
        target = next((t["to"]["name"] for t in available if t["id"] == wanted), None)
        if target is None:
            return _error(400, [f"Transition id '{wanted}' is not valid for this issue."])
        self.edit(issue["id"], status={"name": target, "id": STATUSES[target]})
        return httpx.Response(204)


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.000+0000").replace(tzinfo=UTC)


def _order(issue: dict[str, Any]) -> tuple[str, int]:
    return (issue["fields"]["updated"], int(issue["id"]))
