"""Writing Jira issues: updates of changed fields only, and creation (single and bulk).

Updates read the current values once (``issue/bulkfetch``, 100 per request), send only
fields that differ (``PUT /issue/{id}``) and move the status through a transition
(``POST /issue/{id}/transitions``). Rich-text fields compare *documents*
(`same_document`), never renderings: an unchanged export
is never sent, and a value that would delete what the field holds and Markdown cannot show
(images, mentions, panels...) is refused as a ``conflict`` naming those nodes unless
``force=True``. Creation uses ``POST /issue`` for one issue and ``POST /issue/bulk`` for
more (50 per request); a status other than the initial one is reached by a transition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from integrations.tickets.adf import is_adf, lost_nodes, markdown_to_adf, same_document
from integrations.tickets.base import (
    CreateResult,
    FieldChange,
    TicketField,
    WriteResult,
    merge_by_id,
    run_writes,
    same_value,
    write_progress,
)
from integrations.tickets.errors import InvalidRequest, RequestRejected
from integrations.tickets.responses import as_dict, as_list, json_body, opt_int, opt_str

if TYPE_CHECKING:
    from integrations.tickets.jira import JiraConnector

__all__ = ["create_tasks", "write_tasks"]

API = "/rest/api/3"
REQUIRED_FIELDS = frozenset({"summary", "issuetype", "project"})


def write_tasks(
    jira: JiraConnector,
    tasks: Sequence[dict[str, Any]],
    *,
    dry_run: bool = False,
    force: bool = False,
) -> list[WriteResult]:
    """Send only changed fields; status through transitions; one result per issue.

    Each task is ``{"id" or "key": ..., "fields": {field id or name: value}}``. Rich-text
    fields accept Markdown (converted to ADF) or ADF. ``dry_run`` reads current values and
    returns the diff without writing.
    """
    results: list[WriteResult] = []
    valid: list[dict[str, Any]] = []
    for task in tasks:
        try:
            jira.task_id(task)
            valid.append(task)
        except InvalidRequest as exc:
            results.append(WriteResult(task_id="?", status="failed", error=str(exc)))
    merged = merge_by_id(valid, jira.task_id)
    meta = jira.field_map()
    wanted = {f for t in merged.values() for f in (t.get("fields") or {})} | {"status"}
    current = jira.fetch(list(merged), sorted(jira.resolve(f, meta) or f for f in wanted))

    # "10001" and "PRJ-1" may name one issue: merge again by the real id
    def real_id(task: dict[str, Any]) -> str:
        issue = current.get(jira.task_id(task))
        return jira.task_id(issue) if issue else jira.task_id(task)

    merged = {jira.task_id(t): t for t in merge_by_id(merged.values(), real_id).values()}

    def one(key: str, task: dict[str, Any]) -> WriteResult:
        return _write_one(jira, key, task, current.get(key), meta, dry_run, force)

    on_done = write_progress(jira.progress)
    return results + run_writes(merged, one, jira.concurrency, on_done=on_done)


def _write_one(
    jira: JiraConnector,
    key: str,
    task: dict[str, Any],
    issue: dict[str, Any] | None,
    meta: dict[str, TicketField],
    dry_run: bool,
    force: bool,
) -> WriteResult:
    if issue is None:
        return WriteResult(task_id=key, status="failed", error=f"issue {key} not found")
    remote = as_dict(issue.get("fields"), f"{key}.fields")
    changes: dict[str, FieldChange] = {}
    rejected: dict[str, str] = {}
    lossy: dict[str, list[str]] = {}
    payload: dict[str, Any] = {}
    target_status: str | None = None
    for name, value in (task.get("fields") or {}).items():
        field_id = jira.resolve(name, meta)
        if field_id is None:
            rejected[name] = "unknown Jira field"
            continue
        if field_id in REQUIRED_FIELDS and value in (None, "", [], {}):
            return WriteResult(task_id=key, status="failed", error=f"{field_id} must not be empty")
        old = remote.get(field_id)
        if field_id == "status":
            target = value.get("name") if isinstance(value, dict) else value
            if not isinstance(target, str) or not target.strip():
                return WriteResult(task_id=key, status="failed", error="status must not be empty")
            old_name = opt_str(as_dict(old, f"{key}.fields.status").get("name"), "status.name")
            if (old_name or "").casefold() != target.casefold():
                target_status = target
                changes["status"] = FieldChange(old=old_name, new=target)
            continue
        if meta[field_id].rich_text:
            new_doc = to_adf(value)
            old_doc = old if is_adf(old) else None
            if same_document(old_doc, new_doc):
                continue
            lost = lost_nodes(old_doc, new_doc)
            if lost and not force:
                lossy[field_id] = lost
                continue
            payload[field_id] = new_doc
            changes[field_id] = FieldChange(old=old, new=new_doc)
            continue
        if value in ("", []) and old in (None, "", []):
            continue
        if not same_value(old, value):
            payload[field_id] = value
            changes[field_id] = FieldChange(old=old, new=value)
    if not changes:
        attempted = len(task.get("fields") or {})
        if lossy:
            status, error = "conflict", _lossy_text(lossy)
        elif rejected and len(rejected) == attempted:
            status, error = "failed", "no field could be written"
        else:
            status, error = "unchanged", None
        return WriteResult(task_id=key, status=status, rejected=rejected, lossy=lossy, error=error)
    issue_id = jira.task_id(issue)
    # looked up before any write (and on dry runs): a missing transition fails the task
    transition_id = _transition_id(jira, issue_id, target_status) if target_status else None
    result = WriteResult(
        task_id=key, status="planned", changes=changes, rejected=rejected, lossy=lossy
    )
    if lossy:
        result.error = _lossy_text(lossy)
    if dry_run:
        return result
    if payload:
        jira.http.request("PUT", f"{API}/issue/{issue_id}", json={"fields": payload})
    if transition_id is not None:
        _transition(jira, issue_id, transition_id)
    result.status = "updated"
    return result


def _lossy_text(lossy: dict[str, list[str]]) -> str:
    return "; ".join(
        f"{field}: writing it would delete {', '.join(nodes)} (force=True overwrites)"
        for field, nodes in lossy.items()
    )


def _transition_id(jira: JiraConnector, issue_id: str, target: str) -> str:
    response = jira.http.request("GET", f"{API}/issue/{issue_id}/transitions")
    data = as_dict(json_body(response, "transitions"), "transitions")
    choices: list[tuple[str, str, str]] = []
    for n, raw in enumerate(as_list(data.get("transitions"), "transitions")):
        transition = as_dict(raw, f"transitions[{n}]")
        to = as_dict(transition.get("to"), f"transitions[{n}].to")
        choices.append(
            (
                opt_str(transition.get("id"), f"transitions[{n}].id") or "",
                opt_str(to.get("name"), f"transitions[{n}].to.name") or "",
                opt_str(transition.get("name"), f"transitions[{n}].name") or "",
            )
        )
    for transition_id, to_name, name in choices:
        if transition_id and target.casefold() in (to_name.casefold(), name.casefold()):
            return transition_id
    available = ", ".join(sorted(to or "?" for _, to, _ in choices))
    raise InvalidRequest(
        f"issue {issue_id}: no transition to status {target!r} (available: {available or 'none'})"
    )


def _transition(jira: JiraConnector, issue_id: str, transition_id: str) -> None:
    jira.http.request(
        "POST",
        f"{API}/issue/{issue_id}/transitions",
        json={"transition": {"id": transition_id}},
        idempotent=False,
    )


def to_adf(value: Any) -> dict[str, Any] | None:
    """A rich-text value as ADF: Markdown is parsed, ADF kept, blank means empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if is_adf(value):
        return dict(value)
    if isinstance(value, str):
        return markdown_to_adf(value)
    raise InvalidRequest(f"rich-text value must be Markdown or ADF, got {type(value).__name__}")


# ------------------------------------------------------------------ creating


def create_tasks(
    jira: JiraConnector, tasks: Sequence[dict[str, Any]], *, dry_run: bool = False
) -> list[CreateResult]:
    """Create one issue per task (``{"fields": {...}}``), in order.

    ``project`` and ``issuetype`` default to the connector's; fields may be named by id or
    name; rich text accepts Markdown. One task goes to ``POST /issue``, more to
    ``POST /issue/bulk`` in requests of 50. A ``status`` field is reached after creation
    by a transition. A task Jira rejects fails alone, with Jira's reasons.
    """
    meta = jira.field_map()
    prepared: list[tuple[int, dict[str, Any], str | None]] = []
    results: dict[int, CreateResult] = {}
    for index, task in enumerate(tasks):
        fields, status, rejected = _create_fields(jira, task, meta)
        missing = [f for f in ("summary",) if not fields.get(f)]
        if missing:
            error = f"{', '.join(missing)} must not be empty"
            results[index] = CreateResult(index=index, status="failed", error=error)
        elif dry_run:
            results[index] = CreateResult(index=index, status="planned", rejected=rejected)
        else:
            results[index] = CreateResult(index=index, status="failed", rejected=rejected)
            prepared.append((index, fields, status))
    if len(prepared) == 1:
        index, fields, _ = prepared[0]
        try:
            response = jira.http.request(
                "POST", f"{API}/issue", json={"fields": fields}, idempotent=False
            )
            _created(results[index], json_body(response, "issue"), "issue")
        except RequestRejected as exc:
            results[index].error = str(exc)
    else:
        for start in range(0, len(prepared), jira.bulk_size):
            _create_bulk(jira, prepared[start : start + jira.bulk_size], results)
    for index, _, status in prepared:
        result = results[index]
        if result.status == "created" and status is not None and result.task_id:
            try:
                target = _transition_id(jira, result.task_id, status)
                _transition(jira, result.task_id, target)
            except InvalidRequest as exc:  # created, but not moved: say so, keep the issue
                result.rejected["status"] = str(exc)
    return [results[i] for i in range(len(tasks))]


def _create_fields(
    jira: JiraConnector, task: dict[str, Any], meta: dict[str, TicketField]
) -> tuple[dict[str, Any], str | None, dict[str, str]]:
    fields: dict[str, Any] = {
        "project": {"key": jira.project_code},
        "issuetype": {"name": jira.ticket_type},
    }
    status: str | None = None
    rejected: dict[str, str] = {}
    for name, value in (task.get("fields") or {}).items():
        field_id = jira.resolve(name, meta) or (name if name in ("project", "issuetype") else None)
        if field_id is None:
            rejected[name] = "unknown Jira field"
        elif field_id == "status":
            status = value.get("name") if isinstance(value, dict) else (value or None)
        elif field_id in meta and meta[field_id].rich_text:
            document = to_adf(value)
            if document is not None:
                fields[field_id] = document
        elif value not in (None, "", []):
            fields[field_id] = value
    return fields, status, rejected


def _created(result: CreateResult, body: Any, where: str) -> None:
    created = as_dict(body, where)
    result.task_id = opt_str(created.get("id"), f"{where}.id")
    result.key = opt_str(created.get("key"), f"{where}.key")
    result.status = "created"
    result.error = None


def _create_bulk(
    jira: JiraConnector,
    chunk: list[tuple[int, dict[str, Any], str | None]],
    results: dict[int, CreateResult],
) -> None:
    body = {"issueUpdates": [{"fields": fields} for _, fields, _ in chunk]}
    try:
        response = jira.http.request("POST", f"{API}/issue/bulk", json=body, idempotent=False)
        answer = as_dict(json_body(response, "issue/bulk"), "issue/bulk")
    except RequestRejected as exc:  # every element failed: Jira lists why, per element
        if not isinstance(exc.body, dict) or "errors" not in exc.body:
            for index, _, _ in chunk:
                results[index].error = str(exc)
            return
        answer = exc.body
    failed: set[int] = set()
    for n, raw in enumerate(as_list(answer.get("errors"), "errors")):
        error = as_dict(raw, f"errors[{n}]")
        number = opt_int(error.get("failedElementNumber"), f"errors[{n}].failedElementNumber")
        if number is None or not 0 <= number < len(chunk):
            continue
        failed.add(number)
        details = as_dict(error.get("elementErrors"), f"errors[{n}].elementErrors")
        messages = [str(m) for m in as_list(details.get("errorMessages"), "errorMessages")]
        messages += [f"{k}: {v}" for k, v in as_dict(details.get("errors"), "errors").items()]
        results[chunk[number][0]].error = "; ".join(messages) or "rejected by Jira"
    created = iter(as_list(answer.get("issues"), "issues"))
    for number, (index, _, _) in enumerate(chunk):
        if number in failed:
            continue
        issue = next(created, None)
        if issue is None:
            results[index].error = "Jira answered without this issue"
            continue
        _created(results[index], issue, f"issues[{number}]")
