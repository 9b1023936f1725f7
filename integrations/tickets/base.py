"""What every ticket connector shares: the protocol, result models and the write runner.

Write results are values, not log lines: each task gets one `WriteResult`
(``updated``, ``unchanged``, ``planned`` on a dry run, ``conflict`` when writing would
delete what the field holds and Markdown cannot show, or ``failed`` with the reason);
each created ticket one `CreateResult`; comments are `Comment` values.
`run_writes` merges tasks addressed to the same ticket (so one run never writes one
ticket twice) and runs them with bounded concurrency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from integrations.errors import IntegrationError

__all__ = [
    "Comment",
    "CreateResult",
    "FieldChange",
    "Progress",
    "TicketConnector",
    "TicketField",
    "WriteResult",
    "WriteStatus",
    "merge_by_id",
    "run_writes",
    "same_value",
    "write_progress",
]

WriteStatus = Literal["updated", "unchanged", "planned", "conflict", "failed"]

#: ``progress(phase, done, total)``: phase ``read`` or ``write``, total None when unknown
Progress = Callable[[str, int, int | None], None]


class TicketField(BaseModel):
    """One field a ticket system knows (system or custom)."""

    id: str
    name: str
    custom: bool = False
    type: str | None = None
    items: str | None = None
    custom_type: str | None = None
    rich_text: bool = False
    options: list[dict[str, Any]] = Field(default_factory=list)


class FieldChange(BaseModel):
    """One field's remote value before and the value sent (as sent on the wire)."""

    old: Any = None
    new: Any = None


class WriteResult(BaseModel):
    """The outcome of writing one task.

    Attributes:
        task_id: the ticket addressed.
        status: ``updated``, ``unchanged``, ``planned`` (dry run) or ``failed``.
        changes: the fields that differ from the remote values (what was or would be sent).
        rejected: fields not written, with the reason (unknown field, button field, ...).
        lossy: rich-text fields not written because the new value would delete nodes the
            old one has and Markdown cannot show (images, mentions...), with those nodes;
            ``force=True`` writes them anyway.
        error: why the task failed.
    """

    task_id: str
    status: WriteStatus
    changes: dict[str, FieldChange] = Field(default_factory=dict)
    rejected: dict[str, str] = Field(default_factory=dict)
    lossy: dict[str, list[str]] = Field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the task was written (or needed nothing) and no field was refused."""
        return self.status not in ("failed", "conflict") and not self.rejected and not self.lossy


CreateStatus = Literal["created", "planned", "failed"]


class CreateResult(BaseModel):
    """The outcome of creating one ticket (results keep the order of the tasks given).

    Attributes:
        index: the task's position in the list given.
        status: ``created``, ``planned`` (dry run) or ``failed``.
        task_id: the new ticket's id (Jira issue id, ClickUp task id).
        key: its human key where the system has one (Jira ``PRJ-12``).
        rejected: fields not sent, with the reason.
        error: why the ticket was not created.
    """

    index: int
    status: CreateStatus
    task_id: str | None = None
    key: str | None = None
    rejected: dict[str, str] = Field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the ticket exists (or would) and every field was sent."""
        return self.status != "failed" and not self.rejected


class Comment(BaseModel):
    """A comment on a ticket.

    Attributes:
        id: the comment's id.
        body: its text as Markdown (Jira's ADF converted without loss).
        author: who wrote it (display name or account/user id), when known.
        created: when it was written, when known.
        raw: the comment as the service returned it.
    """

    id: str
    body: str
    author: str | None = None
    created: datetime | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class TicketConnector(Protocol):
    """The contract both connectors implement.

    Attributes:
        updated_path: where a raw ticket holds its last-update stamp (``fields.updated``).
    """

    updated_path: str

    def read_attributes(self) -> list[TicketField]:
        """The fields the system knows."""
        ...

    def read_tasks(
        self,
        limit: int | None = None,
        updated_since: datetime | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Raw tasks as the system returns them, deduplicated by id."""
        ...

    def write_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False, force: bool = False
    ) -> list[WriteResult]:
        """Write changed fields; one result per ticket (``force``: overwrite rich text even
        when that deletes what Markdown cannot show)."""
        ...

    def create_tasks(
        self, tasks: Sequence[dict[str, Any]], dry_run: bool = False
    ) -> list[CreateResult]:
        """Create tickets; one result per task, in order."""
        ...

    def fetch_tasks(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Known tickets by the ids (or keys) asked for; missing ones are absent."""
        ...

    def scan_ids(self) -> set[str]:
        """The ids (and keys) of every ticket in scope, as cheaply as the service allows."""
        ...

    def read_comments(self, task_id: str) -> list[Comment]:
        """Every comment of a ticket, oldest first."""
        ...

    def add_comment(self, task_id: str, body: str | dict[str, Any]) -> Comment:
        """Add a comment (Markdown, or ADF for Jira)."""
        ...

    def task_id(self, task: dict[str, Any]) -> str:
        """The id of a raw task."""
        ...

    def updated_at(self, task: dict[str, Any]) -> datetime | None:
        """When a raw task was last updated."""
        ...


def same_value(current: Any, wanted: Any) -> bool:
    """Whether the remote value already equals the wanted one.

    A wanted dict matches when every key it names matches (``{"name": "High"}`` matches a
    priority object with more keys); lists compare element-wise; text ignores trailing
    whitespace; numbers compare by value (``"5"`` remote vs ``5`` wanted counts as equal).
    """
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(
            same_value(current.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(current, list)
            and len(current) == len(wanted)
            and all(same_value(c, w) for c, w in zip(current, wanted, strict=True))
        )
    if isinstance(wanted, str) and isinstance(current, str):
        return current.rstrip() == wanted.rstrip()
    if isinstance(wanted, int | float) and not isinstance(wanted, bool) and current is not None:
        try:
            return float(current) == float(wanted)
        except (TypeError, ValueError):
            return False
    return bool(current == wanted)


def merge_by_id(
    tasks: Iterable[dict[str, Any]], task_id: Callable[[dict[str, Any]], str]
) -> dict[str, dict[str, Any]]:
    """Tasks addressed to the same ticket merged into one (later fields win), in order."""
    merged: dict[str, dict[str, Any]] = {}
    for task in tasks:
        key = task_id(task)
        if key in merged:
            merged[key] = _deep_merge(merged[key], task)
        else:
            merged[key] = dict(task)
    return merged


def _deep_merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def write_progress(progress: Progress | None) -> Callable[[int, int], None] | None:
    """A `run_writes` ``on_done`` reporting the ``write`` phase to ``progress``."""
    if progress is None:
        return None
    report = progress
    return lambda done, total: report("write", done, total)


def run_writes(
    items: dict[str, dict[str, Any]],
    write_one: Callable[[str, dict[str, Any]], WriteResult],
    concurrency: int,
    on_done: Callable[[int, int], None] | None = None,
) -> list[WriteResult]:
    """Run ``write_one`` per ticket with at most ``concurrency`` in flight.

    Results keep the order of ``items``. An `IntegrationError` fails only its task;
    anything else (a bug) propagates. ``on_done(done, total)`` is called after each ticket
    in the caller's thread (never from a worker), so a progress bar needs no lock.
    """

    def guarded(key: str, task: dict[str, Any]) -> WriteResult:
        try:
            return write_one(key, task)
        except IntegrationError as exc:
            return WriteResult(task_id=key, status="failed", error=f"{type(exc).__name__}: {exc}")

    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    total = len(items)
    if concurrency == 1 or total <= 1:
        results = []
        for key, task in items.items():
            results.append(guarded(key, task))
            if on_done is not None:
                on_done(len(results), total)
        return results
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ticket-write") as pool:
        futures = [pool.submit(guarded, k, t) for k, t in items.items()]
        for done, _ in enumerate(as_completed(futures), start=1):
            if on_done is not None:
                on_done(done, total)
        return [f.result() for f in futures]
