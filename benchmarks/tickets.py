"""Ticket connector benchmarks: ``python -m benchmarks.tickets`` (from the repo root).

Prints three lines:

- ``read_requests``: search requests made to read 10,000 Jira issues vs the minimum for the
  page size (100 issues per page when fields are requested).
- ``write_concurrency``: 1,000 changed issues against a fake answering every request after
  20 ms, our bounded concurrency (4) vs the same connector run sequentially (baseline).
- ``write_429``: 1,000 changed issues against a fake answering 429 with ``Retry-After`` to 10%
  of requests. Waiting uses a per-thread virtual clock (the connector's injected sleep and
  the fake read the same clock), so the wait reported is the one the fake observed between
  its 429 and the retry of that same request, not the one the client claims.

Every request is validated against the Jira OpenAPI document on its way to the fake.
"""

from __future__ import annotations

import math
import random
import threading
import time

import httpx

from integrations.tickets.http import RetryPolicy
from integrations.tickets.jira import JiraConnector, jira_retry_policy
from integrations.tickets.testing import FakeJira, Throttle, jira_validator, validating

READ_ISSUES = 10_000
WRITE_TASKS = 1_000
LATENCY = 0.020
PAGE_SIZE = 100
ASKED = 1.0


class VirtualClock:
    """Per-thread virtual time: ``sleep`` advances only the calling thread's clock."""

    def __init__(self) -> None:
        self.base = time.time()
        self.local = threading.local()

    def now(self) -> float:
        return self.base + getattr(self.local, "offset", 0.0)

    def sleep(self, seconds: float) -> None:
        self.local.offset = getattr(self.local, "offset", 0.0) + seconds


def connector(fake: FakeJira, retry: RetryPolicy | None = None, **kwargs: object) -> JiraConnector:
    client = httpx.Client(transport=httpx.MockTransport(validating(fake, jira_validator())))
    return JiraConnector(
        "https://bench.atlassian.net",
        "ada@example.com",
        "jira-token",
        "PRJ",
        "Task",
        client=client,
        retry=retry,
        page_size=PAGE_SIZE,
        **kwargs,  # type: ignore[arg-type]
    )


def bench_read() -> str:
    fake = FakeJira()
    for n in range(READ_ISSUES):
        fake.add_issue(f"issue {n}")
    tasks = connector(fake).read_tasks(fields=["summary", "status"])
    assert len({t["id"] for t in tasks}) == READ_ISSUES, len(tasks)
    searches = sum(1 for r in fake.requests if r.url.path == "/rest/api/3/search/jql")
    minimal = math.ceil(READ_ISSUES / PAGE_SIZE)
    return f"read_requests: {searches} requests for {READ_ISSUES} issues, minimal {minimal}"


def _write_run(concurrency: int) -> tuple[float, FakeJira]:
    fake = FakeJira(latency=LATENCY)
    ids = [fake.add_issue(f"issue {n}") for n in range(WRITE_TASKS)]
    tasks = [{"id": i, "fields": {"summary": f"changed {i}"}} for i in ids]
    jira = connector(fake, concurrency=concurrency)
    started = time.perf_counter()
    results = jira.write_tasks(tasks)
    elapsed = time.perf_counter() - started
    assert [r.status for r in results] == ["updated"] * WRITE_TASKS, "a write failed"
    assert all(fake.writes[i] == 1 for i in ids) and fake.concurrent_writes == 0
    assert all(fake.issues[i]["fields"]["summary"] == f"changed {i}" for i in ids)
    return WRITE_TASKS / elapsed, fake


def bench_write_concurrency() -> str:
    ours, _ = _write_run(concurrency=4)
    baseline, _ = _write_run(concurrency=1)
    return (
        f"write_concurrency: ours {ours:.1f} tasks/s, baseline {baseline:.1f} tasks/s, "
        f"ratio {ours / baseline:.2f}"
    )


def bench_write_429() -> str:
    clock = VirtualClock()
    rng = random.Random(429)
    lock = threading.Lock()

    def decide(n: int) -> float | None:
        with lock:
            return ASKED if rng.random() < 0.10 else None

    throttle = Throttle(decide, clock=clock.now)
    fake = FakeJira(throttle=throttle)
    ids = [fake.add_issue(f"issue {n}") for n in range(WRITE_TASKS)]
    retry = jira_retry_policy(sleep=clock.sleep, clock=clock.now, max_attempts=8)
    results = connector(fake, retry=retry, concurrency=4).write_tasks(
        [{"id": i, "fields": {"summary": f"changed {i}"}} for i in ids]
    )
    updated = sum(
        1
        for r, i in zip(results, ids, strict=True)
        if r.status == "updated" and fake.issues[i]["fields"]["summary"] == f"changed {i}"
    )
    if not throttle.gaps:
        raise RuntimeError("the fake never throttled: the benchmark measured nothing")
    shortest, asked = min(throttle.gaps)
    return (
        f"write_429: {updated} of {WRITE_TASKS} updated, shortest wait {shortest:.3f} s "
        f"vs asked {asked:g} s"
    )


def main() -> None:
    print(bench_read(), flush=True)
    print(bench_write_concurrency(), flush=True)
    print(bench_write_429(), flush=True)


if __name__ == "__main__":
    main()
