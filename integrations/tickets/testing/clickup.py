"""A stateful fake of ClickUp API v2 (the parts the connector uses).

Behaviour copied from ClickUp's v2 OpenAPI description (``specs/`` beside this module) and docs
(https://developer.clickup.com/reference): pages of 100 tasks, 0-based ``page``,
``last_page`` on list reads only (team reads end on a short page); closed tasks and
subtasks are left out unless ``include_closed``/``subtasks`` are true; ``date_updated_gt``
in Unix ms; ``markdown_description`` only with ``include_markdown_description=true``;
dropdown custom-field values read back as the option's ``orderindex`` but are set by option
id; ``PUT /task`` rejects ``custom_fields`` ("use the Set Custom Field Value endpoint");
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

from integrations.tickets.testing.openapi import clickup_validator, validating
from integrations.tickets.testing.throttle import Throttle

__all__ = ["FakeClickUp"]

STATUSES = {"to do": "open", "in progress": "custom", "complete": "closed"}
CUSTOM_FIELDS: list[dict[str, Any]] = [
    {"id": "cf-budget", "name": "Budget", "type": "number", "type_config": {}},
    {"id": "cf-notes", "name": "Notes", "type": "text", "type_config": {}},
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
    },
    {"id": "cf-approve", "name": "Approve", "type": "button", "type_config": {}},
]


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
        **custom: Any,
    ) -> str:
        """Create a task; ``custom`` maps custom-field ids to stored values."""
        with self._lock:
            self._next += 1
            task_id = f"t{self._next:05d}"
            stamp = self._tick()
            self.tasks[task_id] = {
                "id": task_id,
                "name": name,
                "description": description,
                "markdown_description": description,
                "status": {"status": status, "type": STATUSES[status]},
                "assignees": [],
                "priority": None,
                "due_date": None,
                "start_date": None,
                "date_created": stamp,
                "date_updated": stamp,
                "parent": parent,
                "list": {"id": self.list_id},
                "custom_fields": [dict(f, value=custom.get(f["id"])) for f in CUSTOM_FIELDS],
            }
            return task_id

    def edit(self, task_id: str, **changes: Any) -> None:
        """Change a task as a person in ClickUp would (bumps ``date_updated``)."""
        with self._lock:
            self.tasks[task_id].update(changes)
            self.tasks[task_id]["date_updated"] = self._tick()

    def custom_value(self, task_id: str, field_id: str) -> Any:
        """The stored value of one custom field of one task."""
        return next(
            f.get("value") for f in self.tasks[task_id]["custom_fields"] if f["id"] == field_id
        )

    # ---------------------------------------------------------------- transport

    def transport(self, *, validate: bool = True) -> httpx.MockTransport:
        """This fake as an httpx transport; every request is first checked against ClickUp's
        OpenAPI description (a :class:`~integrations.tickets.testing.openapi.SpecViolation`
        fails the call) unless ``validate`` is false. Use ``https://api.clickup.com/api/v2``
        (the default) as the connector's base URL."""
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
        if m := re.fullmatch(r"/list/([^/]+)/task", path):
            if m.group(1) != self.list_id:
                return _err(404, "List not found", "ITEM_013")
            return self._page(params, with_last_page=True)
        if m := re.fullmatch(r"/team/([^/]+)/task", path):
            if m.group(1) != self.team_id:
                return _err(401, "Team not authorized", "OAUTH_027")
            return self._page(params, with_last_page=False)
        if m := re.fullmatch(r"/list/([^/]+)/field", path):
            return httpx.Response(200, json={"fields": CUSTOM_FIELDS})
        m = re.fullmatch(r"/task/([^/]+)(?:/field/([^/]+))?", path)
        if m is None or m.group(1) not in self.tasks:
            return _err(404, "Task not found", "ITEM_015")
        task = self.tasks[m.group(1)]
        if m.group(2):
            return self._set_field(task, m.group(2), body)
        if request.method == "GET":
            return httpx.Response(200, json=self._view(task, params))
        if request.method == "PUT":
            return self._update(task, body)
        return _err(405, "Method not allowed", "APP_001")

    def _view(self, task: dict[str, Any], params: httpx.QueryParams) -> dict[str, Any]:
        out = copy.deepcopy(task)
        if params.get("include_markdown_description") != "true":
            out.pop("markdown_description", None)
        return out

    def _page(self, params: httpx.QueryParams, with_last_page: bool) -> httpx.Response:
        with self._lock:
            tasks = sorted(self.tasks.values(), key=lambda t: (t["date_created"], t["id"]))
            if params.get("include_closed") != "true":
                tasks = [t for t in tasks if t["status"]["type"] != "closed"]
            if params.get("subtasks") != "true":
                tasks = [t for t in tasks if not t["parent"]]
            if "date_updated_gt" in params:
                since = int(params["date_updated_gt"])
                tasks = [t for t in tasks if int(t["date_updated"]) > since]
            page = int(params.get("page", "0"))
            chunk = tasks[page * 100 : (page + 1) * 100]
            out: dict[str, Any] = {"tasks": [self._view(t, params) for t in chunk]}
            if with_last_page:
                out["last_page"] = (page + 1) * 100 >= len(tasks)
        return httpx.Response(200, json=out)

    def _update(self, task: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        if "custom_fields" in body:
            return _err(
                400,
                "Custom fields cannot be set with Update Task; use Set Custom Field Value",
                "FIELD_033",
            )
        if "status" in body and body["status"].lower() not in STATUSES:
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
                changes["status"] = {
                    "status": body["status"].lower(),
                    "type": STATUSES[body["status"].lower()],
                }
            text = body.get("markdown_content", body.get("description"))
            if text is not None:
                text = "" if text == " " else text
                changes["description"] = changes["markdown_description"] = text
            if "priority" in body:
                changes["priority"] = {"id": str(body["priority"]), "priority": "p"}
            if "assignees" in body:
                have = {a["id"] for a in task["assignees"]}
                have = (have | set(body["assignees"]["add"])) - set(body["assignees"]["rem"])
                changes["assignees"] = [{"id": a, "username": f"user{a}"} for a in sorted(have)]
            self.edit(task["id"], **changes)
        finally:
            with self._lock:
                self._in_flight.discard(task["id"])
        return httpx.Response(200, json=self._view(task, httpx.QueryParams()))

    def _set_field(
        self, task: dict[str, Any], field_id: str, body: dict[str, Any]
    ) -> httpx.Response:
        field = next((f for f in task["custom_fields"] if f["id"] == field_id), None)
        if field is None:
            return _err(400, "Custom field not found on this task", "FIELD_011")
        value = body.get("value")
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
        elif field["type"] == "number" and not isinstance(value, int | float):
            return _err(400, "Value must be a number", "FIELD_012")
        with self._lock:
            field["value"] = value
            task["date_updated"] = self._tick()
        return httpx.Response(200, json={})
