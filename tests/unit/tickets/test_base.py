"""The write runner: bounded concurrency, per-task failures, progress in the caller's thread."""

from __future__ import annotations

import threading
import time

import pytest

from integrations.errors import NotFound
from integrations.tickets.base import WriteResult, run_writes
from integrations.tickets.jira import JiraConnector


def test_progress_counts_every_ticket_in_the_callers_thread() -> None:
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def write_one(key: str, task: dict) -> WriteResult:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.002)
        with lock:
            in_flight[0] -= 1
        if key == "t3":
            raise NotFound("t3 is gone")
        return WriteResult(task_id=key, status="updated")

    seen: list[tuple[int, int, str]] = []
    items = {f"t{n}": {} for n in range(40)}
    results = run_writes(
        items,
        write_one,
        concurrency=4,
        on_done=lambda done, total: seen.append((done, total, threading.current_thread().name)),
    )
    assert [r.task_id for r in results] == list(items)
    assert results[3].status == "failed" and "t3 is gone" in (results[3].error or "")
    assert [d for d, _, _ in seen] == list(range(1, 41))
    assert {t for _, t, _ in seen} == {40}
    assert {name for _, _, name in seen} == {threading.current_thread().name}
    assert 1 < most[0] <= 4


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        run_writes({"a": {}}, lambda k, t: WriteResult(task_id=k, status="unchanged"), 0)


def test_connector_progress_reaches_the_total(fake_jira, jira_client, retry) -> None:
    ids = [fake_jira.add_issue(f"issue {n}") for n in range(30)]
    calls: list[tuple[str, int, int | None]] = []
    jira = JiraConnector(
        "https://ex.atlassian.net",
        "ada@example.com",
        "jira-token",
        "PRJ",
        "Task",
        client=jira_client,
        retry=retry,
        concurrency=4,
        progress=lambda phase, done, total: calls.append((phase, done, total)),
    )
    jira.write_tasks([{"id": i, "fields": {"summary": f"new {i}"}} for i in ids])
    writes = [(done, total) for phase, done, total in calls if phase == "write"]
    assert writes == [(n, 30) for n in range(1, 31)]
