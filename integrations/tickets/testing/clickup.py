"""A stateful fake of ClickUp API v2 (the parts the connector uses).

Behaviour copied from ClickUp's v2 OpenAPI description (``specs/`` beside this module) and
docs (https://developer.clickup.com/reference): pages of 100 tasks, 0-based ``page``,
``last_page`` on list reads only (team reads end on a short page); closed tasks and
subtasks are left out unless ``include_closed``/``subtasks`` are true; the filters
``statuses``, ``assignees``, ``tags`` (``…[]`` on team reads), ``due_date``/``date_created``/
``date_updated`` ``_gt``/``_lt`` (Unix ms, strict), ``archived`` and ``custom_fields``;
``markdown_description`` only with ``include_markdown_description=true``; task listings
serve tasks as ``GET /task`` does (their answer schemas contradict it, see
`CLICKUP_UNCHECKED`); dropdown custom-field
values read back as the option's ``orderindex`` but are set by option id;
``DELETE /task/{id}/field/{field_id}`` removes a value; ``PUT /task`` rejects
``custom_fields`` ("use the Set Custom Field Value endpoint") and clears ``priority`` and
dates given ``null``; tasks may be addressed by custom id with ``custom_task_ids=true`` and
``team_id``; comments come 25 at a time, newest first, older ones by ``start``/``start_id``;
errors are ``{"err", "ECODE"}``; 429 carries ``X-RateLimit-Reset`` (Unix seconds).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections import Counter
from typing import Any

import httpx

from integrations.tickets.testing.clickup_data import (
    CUSTOM_FIELDS,
    PRIORITIES,
    STATUSES,
    USER,
    matches,
)
from integrations.tickets.testing.openapi import clickup_validator, validating
from integrations.tickets.testing.throttle import Throttle

__all__ = ["FakeClickUp"]


def _err(status: int, err: str, code: str) -> httpx.Response:
    return httpx.Response(status, json={"err": err, "ECODE": code})


class FakeClickUp:
    """In-memory ClickUp workspace with one list; an ``httpx.MockTransport`` handler."""

    def __init__(
        self,
        *,
        token: str = "pk_test",  # noqa: S107 - the fake's own made-up credential
        team_id: str = "900",
        list_id: str = "901",
        latency: float = 0.0,
        throttle: Throttle | None = None,
    ) -> None:
        self.token = token
        self.team_id = team_id
        self.list_id = list_id
        self.latency = latency
        self.throttle = throttle
        self.tasks: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []
        self.writes: Counter[str] = Counter()
        self.concurrent_writes = 0
        self._in_flight: set[str] = set()
        self._lock = threading.RLock()
        self._now = 1_704_100_000_000
        self._next = 0

    def _tick(self) -> str:
        self._now += 1000
        return str(self._now)

    def add_task(
        self,
        name: str,
        *,
        description: str = "",
        status: str = "to do",
        parent: str | None = None,
        custom_id: str | None = None,
        tags: list[str] | None = None,
        assignees: list[int] | None = None,
        archived: bool = False,
        **custom: Any,
    ) -> str:
        """Create a task; ``custom`` maps custom-field ids to stored values."""
        with self._lock:
            self._next += 1
            task_id = f"t{self._next:05d}"
            stamp = self._tick()
            self.tasks[task_id] = {
                "id": task_id,
                "custom_id": custom_id,
                "name": name,
                "description": description,
                "markdown_description": description,
                "status": {"status": status, "type": STATUSES[status]},
                "assignees": [{"id": a, "username": f"user{a}"} for a in assignees or []],
                "tags": [{"name": t} for t in tags or []],
                "priority": None,
                "due_date": None,
                "start_date": None,
                "date_created": stamp,
                "date_updated": stamp,
                "archived": archived,
                "parent": parent,
                "list": {"id": self.list_id},
                "custom_fields": [dict(f, value=custom.get(f["id"])) for f in CUSTOM_FIELDS],
            }
            self.comments[task_id] = []
            return task_id

    def edit(self, task_id: str, **changes: Any) -> None:
        """Change a task as a person in ClickUp would (bumps ``date_updated``)."""
        with self._lock:
            self.tasks[task_id].update(changes)
            self.tasks[task_id]["date_updated"] = self._tick()

    def delete(self, task_id: str) -> None:
        """Delete a task as a person in ClickUp would."""
        with self._lock:
            del self.tasks[task_id]

    def custom_value(self, task_id: str, field_id: str) -> Any:
        """The stored value of one custom field of one task."""
        return next(
            f.get("value") for f in self.tasks[task_id]["custom_fields"] if f["id"] == field_id
        )

    # ---------------------------------------------------------------- transport

    def transport(self, *, validate: bool = True) -> httpx.MockTransport:
        """This fake as an httpx transport; every request (and every answer) is first
        checked against ClickUp's OpenAPI description (a
        `SpecViolation` fails the call) unless
        ``validate`` is false. Use ``https://api.clickup.com/api/v2`` (the default) as the
        connector's base URL."""
        return httpx.MockTransport(validating(self, clickup_validator()) if validate else self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.latency and request.method == "GET":
            time.sleep(self.latency)
        if request.headers.get("Authorization") != self.token:
            return _err(401, "Token invalid", "OAUTH_025")
        if self.throttle is not None and (asked := self.throttle.check(request)) is not None:
            return httpx.Response(
                429,
                headers={
                    "Retry-After": str(int(asked)),
                    "X-RateLimit-Reset": str(int(time.time() + asked)),
                },
                json={"err": "Rate limit reached", "ECODE": "APP_002"},
            )
        path = request.url.path.removeprefix("/api/v2")
        params = request.url.params
        body = json.loads(request.content) if request.content else {}
        if m := re.fullmatch(r"/list/([^/]+)/(task|field)", path):
            if m.group(1) != self.list_id:
                return _err(404, "List not found", "ITEM_013")
            if m.group(2) == "field":
                return httpx.Response(200, json={"fields": CUSTOM_FIELDS})
            if request.method == "POST":
                return self._create(body)
            return self._page(params, team=False)
        if m := re.fullmatch(r"/team/([^/]+)/task", path):
            if m.group(1) != self.team_id:
                return _err(401, "Team not authorized", "OAUTH_027")
            return self._page(params, team=True)
        m = re.fullmatch(r"/task/([^/]+)(?:/(field|comment)(?:/([^/]+))?)?", path)
        if m is None:
            return _err(404, "Route not found", "APP_404")
        task = self._find(m.group(1), params)
        if isinstance(task, httpx.Response):
            return task
        if m.group(2) == "field":
            return self._set_field(request.method, task, m.group(3) or "", body)
        if m.group(2) == "comment":
            return self._comment(request.method, task, params, body)
        if request.method == "GET":
            return httpx.Response(200, json=self._view(task, params, listed=False))
        if request.method == "PUT":
            return self._update(task, body)
        return _err(405, "Method not allowed", "APP_001")

    def _find(self, ref: str, params: httpx.QueryParams) -> dict[str, Any] | httpx.Response:
        if params.get("custom_task_ids") == "true":
            if params.get("team_id") != self.team_id:
                return _err(400, "Team ID must be provided for custom task ids", "OAUTH_027")
            task = next((t for t in self.tasks.values() if t["custom_id"] == ref), None)
        else:
            task = self.tasks.get(ref)
        return task if task is not None else _err(404, "Task not found", "ITEM_015")

    def _view(
        self, task: dict[str, Any], params: httpx.QueryParams, listed: bool
    ) -> dict[str, Any]:
        out = copy.deepcopy(task)
        if params.get("include_markdown_description") != "true":
            out.pop("markdown_description", None)
        return out

    # ---------------------------------------------------------------- reading

    def _page(self, params: httpx.QueryParams, team: bool) -> httpx.Response:
        with self._lock:
            tasks = sorted(self.tasks.values(), key=lambda t: (t["date_created"], t["id"]))
            tasks = [t for t in tasks if matches(t, params, team)]
            page = int(params.get("page", "0"))
            chunk = tasks[page * 100 : (page + 1) * 100]
            out: dict[str, Any] = {"tasks": [self._view(t, params, listed=True) for t in chunk]}
            if not team:
                out["last_page"] = (page + 1) * 100 >= len(tasks)
        return httpx.Response(200, json=out)

    # ---------------------------------------------------------------- writing

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            return _err(400, "Task name invalid", "INPUT_005")
        status = str(body.get("status") or "to do").lower()
        if status not in STATUSES:
            return _err(400, "Status does not exist", "CRTSK_001")
        with self._lock:
            task_id = self.add_task(
                name,
                description=body.get("markdown_content", body.get("description", "")),
                status=status,
                parent=body.get("parent"),
                tags=body.get("tags"),
                assignees=body.get("assignees"),
            )
            task = self.tasks[task_id]
            if body.get("priority") is not None:
                task["priority"] = _priority(int(body["priority"]))
            for key in ("due_date", "start_date"):
                if body.get(key) is not None:
                    task[key] = str(body[key])
            for item in body.get("custom_fields") or []:
                problem = self._store_field(task, item.get("id"), item.get("value"))
                if problem is not None:
                    del self.tasks[task_id]
                    return problem
        return httpx.Response(200, json=self._view(task, httpx.QueryParams(), listed=False))

    def _update(self, task: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        if "custom_fields" in body:
            return _err(
                400,
                "Custom fields cannot be set with Update Task; use Set Custom Field Value",
                "FIELD_033",
            )
        if "status" in body and str(body["status"]).lower() not in STATUSES:
            return _err(400, "Status does not exist", "CRTSK_001")
        with self._lock:
            if task["id"] in self._in_flight:
                self.concurrent_writes += 1
            self._in_flight.add(task["id"])
            self.writes[task["id"]] += 1
        try:
            if self.latency:
                time.sleep(self.latency)
            changes: dict[str, Any] = {}
            for key in ("name", "due_date", "start_date"):
                if key in body:
                    changes[key] = None if body[key] is None else str(body[key])
            if "status" in body:
                status = str(body["status"]).lower()
                changes["status"] = {"status": status, "type": STATUSES[status]}
            text = body.get("markdown_content", body.get("description"))
            if text is not None:
                text = "" if text == " " else text
                changes["description"] = changes["markdown_description"] = text
            if "priority" in body:
                changes["priority"] = (
                    None if body["priority"] is None else _priority(body["priority"])
                )
            if "assignees" in body:
                have = {a["id"] for a in task["assignees"]}
                have = (have | set(body["assignees"]["add"])) - set(body["assignees"]["rem"])
                changes["assignees"] = [{"id": a, "username": f"user{a}"} for a in sorted(have)]
            self.edit(task["id"], **changes)
        finally:
            with self._lock:
                self._in_flight.discard(task["id"])
        return httpx.Response(200, json=self._view(task, httpx.QueryParams(), listed=False))

    def _store_field(
        self, task: dict[str, Any], field_id: Any, value: Any
    ) -> httpx.Response | None:
        field = next((f for f in task["custom_fields"] if f["id"] == field_id), None)
        if field is None:
            return _err(400, "Custom field not found on this task", "FIELD_011")
        options = field["type_config"].get("options") or []
        if field["type"] == "drop_down":
            option = next((o for o in options if o["id"] == value), None)
            if option is None:
                return _err(400, "Value is not a valid option id", "FIELD_017")
            value = option["orderindex"]  # read back as orderindex, as ClickUp does
        elif field["type"] == "labels":
            if not isinstance(value, list) or any(
                v not in {o["id"] for o in options} for v in value
            ):
                return _err(400, "Value must be an array of label option ids", "FIELD_018")
        elif field["type"] == "number" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            return _err(400, "Value must be a number", "FIELD_012")
        elif field["type"] == "button":
            return _err(400, "Button fields cannot be set", "FIELD_050")
        field["value"] = value
        return None

    def _set_field(
        self, method: str, task: dict[str, Any], field_id: str, body: dict[str, Any]
    ) -> httpx.Response:
        with self._lock:
            if method == "DELETE":
                field = next((f for f in task["custom_fields"] if f["id"] == field_id), None)
                if field is None:
                    return _err(400, "Custom field not found on this task", "FIELD_011")
                field["value"] = None
            else:
                problem = self._store_field(task, field_id, body.get("value"))
                if problem is not None:
                    return problem
            task["date_updated"] = self._tick()
        return httpx.Response(200, json={})

    def _comment(
        self, method: str, task: dict[str, Any], params: httpx.QueryParams, body: dict[str, Any]
    ) -> httpx.Response:
        comments = self.comments.setdefault(task["id"], [])
        if method == "POST":
            text = body.get("comment_text")
            if not isinstance(text, str) or not text:
                return _err(400, "Comment text is required", "COMM_003")
            with self._lock:
                stamp = self._tick()
                comment = {
                    "id": str(90000 + sum(len(c) for c in self.comments.values())),
                    "comment": [{"text": text}],
                    "comment_text": text,
                    "user": dict(USER),
                    "resolved": False,
                    "assignee": dict(USER),  # as in the description's example
                    "assigned_by": dict(USER),
                    "reactions": [],
                    "date": stamp,
                }
                comments.append(comment)
                task["date_updated"] = stamp
            return httpx.Response(
                200, json={"id": comment["id"], "hist_id": f"h{comment['id']}", "date": int(stamp)}
            )
        newest_first = sorted(comments, key=lambda c: (int(c["date"]), c["id"]), reverse=True)
        if "start" in params and "start_id" in params:
            bound = (int(params["start"]), params["start_id"])
            newest_first = [c for c in newest_first if (int(c["date"]), c["id"]) < bound]
        return httpx.Response(200, json={"comments": newest_first[:25]})


def _priority(number: int) -> dict[str, Any]:
    return {
        "id": str(number),
        "priority": PRIORITIES.get(number, "normal"),
        "color": "#f8ae00",
        "orderindex": str(number),
    }
