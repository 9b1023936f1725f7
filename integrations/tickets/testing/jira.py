"""A stateful fake of the Jira Cloud platform REST API v3 (the parts the connector uses).

Behaviour copied from the platform v3 OpenAPI description (``specs/`` beside this module) and
Atlassian's docs (https://developer.atlassian.com/cloud/jira/platform/rest/v3/):

- ``POST /rest/api/3/search/jql``: JQL (see `.jql`); ``nextPageToken`` cursor, the
  last page sets ``isLast`` and omits the token; at most 100 issues per page when fields
  are requested, 5,000 when only ``id``/``key`` are; the cursor is a position in the *live*
  ordering, so an issue updated while paging ``ORDER BY updated`` shows up again later;
  ``names``/``schema`` with ``expand``; ``empty_pages`` answers chosen pages with no issues
  but ``isLast: false`` and a token (Jira may return fewer items than asked, even none).
- ``POST /rest/api/3/issue/bulkfetch``: up to 100 ids or keys; unknown ones are left out.
- ``POST /rest/api/3/issue`` (201 ``{id, key, self}``) and ``/issue/bulk`` (up to 50; 201
  with ``errors`` per failed element, 400 when every element failed); new issues start in
  "To Do"; ``summary`` is required; rich-text fields take ADF only.
- ``PUT /rest/api/3/issue/{id}``: 204; ``status`` is silently ignored (it changes only
  through transitions); an empty summary or an unknown field is a 400 with ``errors``.
- ``GET/POST /rest/api/3/issue/{id}/comment``: ``startAt`` paging; bodies are ADF; a
  comment bumps the issue's ``updated``.
- ``GET /rest/api/3/myself`` with the user's ``timeZone``, in which JQL dates are read;
  ``GET/POST /issue/{id}/transitions``; 404 ``errorMessages`` for unknown issues; 401
  without the right Basic credentials; 429 with ``Retry-After``/``X-RateLimit-Reset``
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
from integrations.tickets.testing.jira_data import (
    CUSTOM_FIELDS,
    ME,
    STAMP,
    STATUSES,
    SYSTEM_FIELDS,
    TRANSITIONS,
    field_errors,
)
from integrations.tickets.testing.jql import JqlError, compile_jql
from integrations.tickets.testing.openapi import jira_validator, validating
from integrations.tickets.testing.throttle import Throttle

__all__ = ["FakeJira"]


def _error(
    status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json={"errorMessages": messages or [], "errors": errors or {}})


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)


class FakeJira:
    """In-memory Jira with one project; call it as an ``httpx.MockTransport`` handler.

    Args:
        email, token: the only Basic credentials accepted.
        project, issue_type: the project key and default issue type of new issues.
        latency: seconds every request takes (PUTs inside their write window).
        throttle: answers 429 to the requests it picks.
        time_zone: the API user's time zone (JQL dates are read in it).
        empty_pages: search page numbers (1-based, counted over the fake's life) answered
            with no issues, ``isLast: false`` and a token that resumes where it was.
    """

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
        empty_pages: set[int] | None = None,
    ) -> None:
        self.time_zone = time_zone
        self.auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
        self.project = project
        self.issue_type = issue_type
        self.latency = latency
        self.throttle = throttle
        self.empty_pages = set(empty_pages or ())
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
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
        return self._clock.strftime(STAMP)

    def add_issue(
        self,
        summary: str,
        *,
        description: str | dict[str, Any] | None = None,
        status: str = "To Do",
        issue_type: str | None = None,
        **custom: Any,
    ) -> str:
        """Create an issue (description as Markdown or ADF); returns its id."""
        with self._lock:
            self._next_id += 1
            issue_id = str(self._next_id)
            stamp = self._tick()
            if isinstance(description, str):
                description = markdown_to_adf(description)
            fields: dict[str, Any] = {
                "summary": summary,
                "description": description or None,
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
            self.comments[issue_id] = []
            return issue_id

    def edit(self, issue_id: str, **fields: Any) -> None:
        """Change an issue as a person in Jira would (bumps ``updated``)."""
        with self._lock:
            self.issues[issue_id]["fields"].update(fields)
            self.issues[issue_id]["fields"]["updated"] = self._tick()

    def delete(self, issue_id: str) -> None:
        """Delete an issue as a person in Jira would."""
        with self._lock:
            del self.issues[issue_id]

    def find(self, key: str) -> dict[str, Any] | None:
        """The issue with this id or key (any case), or None."""
        return self.issues.get(key) or next(
            (i for i in self.issues.values() if i["key"].casefold() == key.casefold()), None
        )

    # ---------------------------------------------------------------- transport

    def transport(self, *, validate: bool = True) -> httpx.MockTransport:
        """This fake as an httpx transport; every request (and every answer) is first
        checked against Jira's OpenAPI description (a
        `SpecViolation` fails the call)
        unless ``validate`` is false."""
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
        path = request.url.path.removeprefix("/rest/api/3")
        body = json.loads(request.content) if request.content else None
        route = (request.method, path)
        if route == ("GET", "/myself"):
            return httpx.Response(200, json={**ME, "timeZone": self.time_zone, "active": True})
        if route == ("GET", "/field"):
            return httpx.Response(200, json=self._fields())
        if route == ("POST", "/search/jql"):
            return self._search(body or {})
        if route == ("POST", "/issue/bulkfetch"):
            return self._bulkfetch(body or {})
        if route == ("POST", "/issue"):
            return self._create_one(body or {})
        if route == ("POST", "/issue/bulk"):
            return self._create_bulk(body or {})
        match = re.fullmatch(r"/issue/([^/]+)(/transitions|/comment)?", path)
        if match is None:
            return _error(404, [f"No route for {request.method} {path}"])
        issue = self.find(match.group(1))
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        if match.group(2) == "/transitions":
            return self._transitions(request.method, issue, body or {})
        if match.group(2) == "/comment":
            return self._comment(request, issue, body or {})
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
        if fields is not None and not any(f.startswith("*") for f in fields):
            out["fields"] = {k: v for k, v in out["fields"].items() if k in fields}
        return out

    # ---------------------------------------------------------------- search and fetch

    def _search(self, body: dict[str, Any]) -> httpx.Response:
        with self._lock:
            try:
                where, sort = compile_jql(body.get("jql", ""), ZoneInfo(self.time_zone), _parse)
            except JqlError as exc:
                return _error(400, [f"Error in the JQL Query: {exc}"])
            fields = body.get("fields") or ["id"]
            cap = 5000 if set(fields) <= {"id", "key"} else 100
            size = min(int(body.get("maxResults", 50)), cap)
            ordered = sort([i for i in self.issues.values() if where(i)])
            rank = {i["id"]: n for n, i in enumerate(ordered)}
            token = body.get("nextPageToken")
            # the cursor is the (live) sort position of the last issue served, so an
            # issue re-sorted behind it while paging comes back later, none is skipped
            after = json.loads(base64.b64decode(token))["after"] if token else None
            if after is not None and after not in rank:
                return _error(400, ["The nextPageToken is invalid or has expired."])
            start = 0 if after is None else rank[after] + 1
            self._pages += 1
            page_number = self._pages
            page = [] if page_number in self.empty_pages else ordered[start : start + size]
            last = page[-1]["id"] if page else after
            more = start + len(page) < len(ordered)
            out: dict[str, Any] = {"issues": [self._project(i, fields) for i in page]}
            if more:
                cursor = {"after": last, "page": page_number}
                out["nextPageToken"] = base64.b64encode(json.dumps(cursor).encode()).decode()
            out["isLast"] = not more
            expand = body.get("expand") or ""
            if "names" in expand:
                out["names"] = {fid: name for fid, name, _ in SYSTEM_FIELDS + CUSTOM_FIELDS}
            if "schema" in expand:
                out["schema"] = {fid: schema for fid, _, schema in SYSTEM_FIELDS + CUSTOM_FIELDS}
        if self.on_page is not None:
            self.on_page(page_number)
        return httpx.Response(200, json=out)

    def _bulkfetch(self, body: dict[str, Any]) -> httpx.Response:
        keys = body.get("issueIdsOrKeys") or []
        if not keys or len(keys) > 100:
            return _error(400, ["issueIdsOrKeys must hold between 1 and 100 ids or keys."])
        fields = body.get("fields") or ["*navigable"]
        with self._lock:
            found = {i["id"]: i for k in keys if (i := self.find(str(k))) is not None}
            issues = [self._project(found[i], fields) for i in sorted(found, key=int)]
        return httpx.Response(200, json={"issues": issues, "issueErrors": []})

    # ---------------------------------------------------------------- create and edit

    def _field_errors(self, fields: dict[str, Any], creating: bool) -> dict[str, str]:
        return field_errors(fields, creating=creating, project=self.project)

    def _new_issue(self, fields: dict[str, Any]) -> dict[str, Any]:
        custom = {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        summary = custom.pop("summary")
        description = custom.pop("description", None)
        issue_id = self.add_issue(
            summary, issue_type=fields["issuetype"]["name"], description=description, **custom
        )
        issue = self.issues[issue_id]
        return {"id": issue_id, "key": issue["key"], "self": f"/rest/api/3/issue/{issue_id}"}

    def _create_one(self, body: dict[str, Any]) -> httpx.Response:
        fields = body.get("fields") or {}
        errors = self._field_errors(fields, creating=True)
        if errors:
            return _error(400, [], errors)
        with self._lock:
            return httpx.Response(201, json=self._new_issue(fields))

    def _create_bulk(self, body: dict[str, Any]) -> httpx.Response:
        updates = body.get("issueUpdates") or []
        if len(updates) > 50:
            return _error(400, ["Bulk create is limited to 50 issues per request."])
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        with self._lock:
            for n, update in enumerate(updates):
                fields = update.get("fields") or {}
                errors = self._field_errors(fields, creating=True)
                if errors:
                    failed.append(
                        {
                            "failedElementNumber": n,
                            "status": 400,
                            "elementErrors": {"errorMessages": [], "errors": errors},
                        }
                    )
                else:
                    created.append(self._new_issue(fields))
        status = 201 if created or not updates else 400
        return httpx.Response(status, json={"issues": created, "errors": failed})

    def _edit(self, issue: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        errors = self._field_errors(
            {k: v for k, v in (body.get("fields") or {}).items() if k != "status"}, creating=False
        )
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

    # ---------------------------------------------------------------- comments, transitions

    def _comment(
        self, request: httpx.Request, issue: dict[str, Any], body: dict[str, Any]
    ) -> httpx.Response:
        comments = self.comments.setdefault(issue["id"], [])
        if request.method == "GET":
            start = int(request.url.params.get("startAt", "0"))
            size = min(int(request.url.params.get("maxResults", "50")), 100)
            page = comments[start : start + size]
            return httpx.Response(
                200,
                json={
                    "comments": page,
                    "startAt": start,
                    "maxResults": size,
                    "total": len(comments),
                },
            )
        document = body.get("body")
        if not (isinstance(document, dict) and document.get("type") == "doc"):
            return _error(400, ["Comment body must be an Atlassian Document (see ADF)."])
        with self._lock:
            stamp = self._tick()
            comment = {
                "id": str(10000 + sum(len(c) for c in self.comments.values())),
                "author": dict(ME),
                "body": document,
                "created": stamp,
                "updated": stamp,
            }
            comments.append(comment)
            issue["fields"]["updated"] = stamp
        return httpx.Response(201, json=comment)

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
