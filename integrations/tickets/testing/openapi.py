"""Validate outgoing ``httpx.Request``s against an OpenAPI document (3.0 or 3.1).

A deliberately small validator over the spec JSON. openapi-core works on these documents
(the project's ``tests/integration/tickets/test_openapi_crosscheck.py`` replays scenarios
through it) but
takes about 2 s to load the Jira document and 1.5 s for ClickUp's, warns about Jira's
security schemes (fatal under ``filterwarnings = error``) and costs about 2 ms per request;
this one loads both in about 0.2 s. It checks: the method and path match an operation
(literal segments preferred over templates), path parameters fit their schemas, every query
parameter is declared and fits its schema, required query and header parameters are present,
and a JSON body validates against the request body schema (``$ref``s resolved in the
document).

The documents are the vendors' own, shipped in ``specs/`` beside this module (see its README
for their sources and licenses). Fixes made in memory, never in the files: four
``default: ''`` values outside their enums (which make strict validators fail) are removed
from the Jira document; ClickUp's ``nullable: true`` is honoured and its task update body
admits the ``null`` that ClickUp's docs use to clear priority and dates. Answers are
validated too (`SpecValidator.validate_response`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "CLICKUP_SPEC",
    "JIRA_SPEC",
    "SpecValidator",
    "SpecViolation",
    "clickup_validator",
    "jira_adf_examples",
    "jira_validator",
    "validating",
]

SPECS = Path(__file__).resolve().parent / "specs"
JIRA_SPEC = SPECS / "jira-platform-swagger-v3.v3.json"
CLICKUP_SPEC = SPECS / "clickup-api-v2-reference.json"
SPEC_URI = "urn:openapi-spec"


class SpecViolation(AssertionError):
    """A request the API description does not allow."""


def _drop_bad_defaults(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("default") == "" and "enum" in node and "" not in node["enum"]:
            del node["default"]
        for value in node.values():
            _drop_bad_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_bad_defaults(value)


@dataclass
class Operation:
    """One method on one path template of the document."""

    method: str
    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    spec: dict[str, Any]
    pointer: str


@dataclass
class SpecValidator:
    """Request validator for one API description.

    Attributes:
        document: the parsed (and patched) OpenAPI document.
        base_path: the URL path prefix before the spec's paths (``/api`` for ClickUp).
        seen: every (method, template) validated, for coverage checks.
    """

    document: dict[str, Any]
    base_path: str = ""
    seen: list[tuple[str, str]] = field(default_factory=list)
    #: operations whose answers are not checked, each with the reason
    unchecked_answers: dict[tuple[str, str], str] = field(default_factory=dict)
    #: whether each operation lists its error statuses (Jira) or the API documents them
    #: once for all (ClickUp): then an undocumented 4xx is not a violation
    errors_per_operation: bool = True

    def __post_init__(self) -> None:
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        self.operations: list[Operation] = []
        for template, item in self.document["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
            literal = sum(1 for s in template.split("/") if s and not s.startswith("{"))
            for method, op in item.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    pointer = "/paths/" + template.replace("~", "~0").replace("/", "~1")
                    op = dict(op)
                    op["parameters"] = [*item.get("parameters", []), *op.get("parameters", [])]
                    self.operations.append(
                        Operation(
                            method.upper(),
                            template,
                            re.compile(f"^{regex}$"),
                            literal,
                            op,
                            f"{pointer}/{method}",
                        )
                    )
        self.operations.sort(key=lambda o: -o.literal_segments)
        self._validators: dict[str, Draft202012Validator] = {}

    def _validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry
            )
        return self._validators[pointer]

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def fresh(self) -> SpecValidator:
        """The same validator with an empty record of what it validated."""
        return dataclasses.replace(self, seen=[])

    def operation(self, request: httpx.Request) -> tuple[Operation, str]:
        """The operation ``request`` addresses and its path below the base path."""
        path = unquote(urlsplit(str(request.url)).path)
        if not path.startswith(self.base_path):
            raise SpecViolation(f"{request.method} {path}: outside base path {self.base_path!r}")
        path = path[len(self.base_path) :] or "/"
        op = next(
            (o for o in self.operations if o.method == request.method and o.pattern.match(path)),
            None,
        )
        if op is None:
            raise SpecViolation(f"{request.method} {path}: no such operation in the document")
        return op, path

    def validate_response(self, request: httpx.Request, response: httpx.Response) -> None:
        """Raise `SpecViolation` unless ``response`` is one the document describes
        for ``request``: a documented status (429 and 5xx excepted: Jira and ClickUp
        document them once for the whole API) with a JSON body its schema accepts."""
        op, _ = self.operation(request)
        if (op.method, op.template) in self.unchecked_answers:
            return
        where = f"{op.method} {op.template} -> {response.status_code}"
        responses = op.spec.get("responses") or {}
        key = str(response.status_code)
        if key not in responses:
            key = f"{key[0]}XX" if f"{key[0]}XX" in responses else "default"
        if key not in responses:
            if response.status_code == 429 or response.status_code >= 500:
                return
            if response.status_code >= 400 and not self.errors_per_operation:
                return
            raise SpecViolation(f"{where}: status not documented ({', '.join(responses)})")
        described = self._resolve(responses[key])
        schema = (described.get("content") or {}).get("application/json", {}).get("schema")
        if schema is None or not response.content:
            return
        pointer = f"{op.pointer}/responses/{key}/content/application~1json/schema"
        if "$ref" in responses[key]:
            pointer = responses[key]["$ref"].lstrip("#") + "/content/application~1json/schema"
        try:
            self._validator(pointer).validate(json.loads(response.content))
        except ValidationError as exc:
            raise SpecViolation(
                f"{where}: body invalid: {exc.message[:300]} at {list(exc.absolute_path)}"
            ) from exc

    def validate(self, request: httpx.Request) -> None:
        """Raise `SpecViolation` unless the document allows ``request``."""
        op, path = self.operation(request)
        self.seen.append((op.method, op.template))
        where = f"{op.method} {op.template}"
        params = [self._resolve(p) for p in op.spec.get("parameters", [])]
        match = op.pattern.match(path)
        assert match is not None
        names = re.findall(r"\{([^}]+)\}", op.template)
        path_params = {p["name"]: p for p in params if p.get("in") == "path"}
        for name, value in zip(names, match.groups(), strict=True):
            schema = (path_params.get(name) or {}).get("schema") or {}
            self._check_value(where, f"path {name}", value, schema)
        declared = {p["name"]: p for p in params if p.get("in") == "query"}
        for name, value in request.url.params.multi_items():
            if name not in declared:
                raise SpecViolation(f"{where}: undeclared query parameter {name!r}")
            self._check_value(where, f"query {name}", value, declared[name].get("schema") or {})
        for p in params:
            if not p.get("required"):
                continue
            if p["in"] == "query" and p["name"] not in request.url.params:
                raise SpecViolation(f"{where}: missing required query parameter {p['name']!r}")
            if p["in"] == "header" and p["name"].lower() not in request.headers:
                raise SpecViolation(f"{where}: missing required header {p['name']!r}")
        body = op.spec.get("requestBody")
        content = request.content
        if body is None:
            if content:
                raise SpecViolation(f"{where}: sends a body the operation does not take")
            return
        body = self._resolve(body)
        if not content:
            if body.get("required"):
                raise SpecViolation(f"{where}: required request body missing")
            return
        if "application/json" not in body.get("content", {}):
            raise SpecViolation(f"{where}: operation does not take a JSON body")
        try:
            payload = json.loads(content)
        except ValueError as exc:
            raise SpecViolation(f"{where}: body is not JSON: {exc}") from exc
        pointer = f"{op.pointer}/requestBody/content/application~1json/schema"
        if "$ref" in op.spec["requestBody"]:
            ref = op.spec["requestBody"]["$ref"].lstrip("#")
            pointer = f"{ref}/content/application~1json/schema"
        try:
            self._validator(pointer).validate(payload)
        except ValidationError as exc:
            raise SpecViolation(
                f"{where}: body invalid: {exc.message} at {list(exc.path)}"
            ) from exc

    def _check_value(self, where: str, name: str, raw: str, schema: dict[str, Any]) -> None:
        schema = self._resolve(schema)
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        value: Any = raw
        if "array" in kinds:
            items = self._resolve(schema.get("items") or {})
            for part in raw.split(","):
                self._check_value(where, name, part, items)
            return
        if "integer" in kinds:
            if not re.fullmatch(r"-?\d+", raw):
                raise SpecViolation(f"{where}: {name}={raw!r} is not an integer")
            value = int(raw)
        elif "number" in kinds:
            try:
                value = float(raw)
            except ValueError as exc:
                raise SpecViolation(f"{where}: {name}={raw!r} is not a number") from exc
        elif "boolean" in kinds:
            if raw not in ("true", "false"):
                raise SpecViolation(f"{where}: {name}={raw!r} is not a boolean")
            value = raw == "true"
        if "enum" in schema and value not in schema["enum"]:
            raise SpecViolation(f"{where}: {name}={raw!r} not in {schema['enum']}")


def jira_adf_examples() -> list[dict[str, Any]]:
    """The ADF documents the Jira description holds as examples (Atlassian's own), unique."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, str) and '"type":"doc"' in node:
            try:
                walk(json.loads(node))
            except ValueError:
                return
        elif isinstance(node, dict):
            if node.get("type") == "doc" and "content" in node:
                found[json.dumps(node, sort_keys=True)] = node
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(JIRA_SPEC.read_text(encoding="utf-8")))
    return list(found.values())


@cache
def jira_validator() -> SpecValidator:
    """The Jira Cloud platform v3 validator (document loaded and patched once)."""
    document = json.loads(JIRA_SPEC.read_text(encoding="utf-8"))
    _drop_bad_defaults(document)
    return SpecValidator(document)


def _honour_nullable(node: Any) -> None:
    """OpenAPI 3.0's ``nullable: true`` (left in ClickUp's 3.1 document) as JSON Schema."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for value in node.values():
            _honour_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _honour_nullable(value)


#: ``PUT /v2/task/{task_id}`` fields ClickUp's docs say ``null`` removes, typed integer only
#: in the description (https://developer.clickup.com/reference/updatetask: "priority ...
#: null", dates likewise); the create body already allows ``null`` for priority
CLICKUP_CLEARABLE = ("priority", "due_date", "start_date")


@cache
def clickup_validator() -> SpecValidator:
    """The ClickUp v2 validator; its server URL is ``https://api.clickup.com/api``.

    In-memory fixes: ``nullable: true`` is honoured, the update body admits ``null`` for
    `CLICKUP_CLEARABLE`; the answers of `CLICKUP_UNCHECKED` are not checked.
    """
    document = json.loads(CLICKUP_SPEC.read_text(encoding="utf-8"))
    _honour_nullable(document)
    body = document["paths"]["/v2/task/{task_id}"]["put"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    while "$ref" in schema:  # follow to the properties we patch
        target: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        schema = target
    for name in CLICKUP_CLEARABLE:
        schema["properties"][name]["type"] = [schema["properties"][name]["type"], "null"]
    return SpecValidator(
        document,
        base_path="/api",
        unchecked_answers=CLICKUP_UNCHECKED,
        errors_per_operation=False,
    )


#: answers whose schemas contradict the task ``GET /v2/task/{id}`` serves (and each other):
#: the team listing requires ~30 fields and types ``priority`` as an integer and
#: ``parent``/``due_date`` as non-null strings; the list listing and the update's answer
#: type assignees as strings where ``GET /v2/task`` has users
CLICKUP_UNCHECKED = {
    ("GET", "/v2/team/{team_Id}/task"): "answer schema contradicts GET /v2/task/{task_id}",
    ("GET", "/v2/list/{list_id}/task"): "answer schema contradicts GET /v2/task/{task_id}",
    ("PUT", "/v2/task/{task_id}"): "answer schema contradicts GET /v2/task/{task_id}",
}


def validating(
    handler: Callable[[httpx.Request], httpx.Response], validator: SpecValidator
) -> Callable[[httpx.Request], httpx.Response]:
    """Wrap a fake so every request is validated before the fake sees it, and every answer
    before the client does."""

    def handle(request: httpx.Request) -> httpx.Response:
        validator.validate(request)
        response = handler(request)
        validator.validate_response(request, response)
        return response

    return handle
