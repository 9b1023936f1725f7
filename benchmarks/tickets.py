"""Ticket connector benchmarks: ``python -m benchmarks.tickets`` (from the repo root).

Prints five lines:

- ``read_requests``: search requests made to read 10,000 Jira issues vs the minimum for the
  page size (100 issues per page when fields are requested).
- ``write_concurrency``: 1,000 changed issues against a fake answering every request after
  20 ms, our bounded concurrency (4) vs the same connector run sequentially (baseline).
- ``write_429``: 1,000 changed issues against a fake answering 429 with ``Retry-After`` to 10%
  of requests. Waiting uses a per-thread virtual clock (the connector's injected sleep and
  the fake read the same clock), so the wait reported is the one the fake observed between
  its 429 and the retry of that same request, not the one the client claims.

- ``adf_roundtrip``: documents of the ADF corpus (Atlassian's renderer fixtures, real
  Confluence exports: ``tests/unit/tickets/adf/corpus``) and of the Jira description's own
  examples that survive ADF -> Markdown -> ADF unchanged.
- ``sync_requests``: HTTP requests of a sync of 1,000 issues (stored in SQLite) after 50
  changed in Jira and 50 locally, vs the minimum: one search page for the changes, one
  id-only scan for deletions, one bulk fetch of the current values, one PUT per local change.

Every request is validated against the Jira OpenAPI document on its way to the fake.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx

from integrations.tickets.adf import adf_to_markdown, markdown_to_adf, normalize
from integrations.tickets.http import RetryPolicy
from integrations.tickets.interface import TicketInterface
from integrations.tickets.jira import JiraConnector, jira_retry_policy
from integrations.tickets.mapping import TicketMapping
from integrations.tickets.testing import FakeJira, Throttle, jira_validator, validating
from integrations.tickets.testing.openapi import jira_adf_examples
from models.base import Record
from models.management import TicketSyncState
from repositories import Context, connect

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


CORPUS = Path(__file__).resolve().parents[1] / "tests" / "unit" / "tickets" / "adf" / "corpus"


def bench_adf_roundtrip() -> str:
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.json"))]
    documents += jira_adf_examples()
    lossless = sum(1 for d in documents if markdown_to_adf(adf_to_markdown(d)) == normalize(d))
    return f"adf_roundtrip: {lossless}/{len(documents)} documents lossless"


class BenchTicket(Record):
    """A service's copy of a Jira issue."""

    mandate_id: str = ""
    key: str | None = None
    summary: str = ""
    state: str | None = None


SYNC_MAPPING = {
    "name": "bench",
    "key_field": "key",
    "fields": {
        "key": {"path": "key", "direction": "read"},
        "summary": {"path": "fields.summary"},
        "state": {"path": "fields.status.name"},
    },
}
SYNC_TICKETS = 1000
SYNC_CHANGED = 100


def bench_sync_requests() -> str:
    fake = FakeJira()
    ids = [fake.add_issue(f"issue {n}") for n in range(SYNC_TICKETS)]
    with tempfile.TemporaryDirectory() as folder:
        db = connect(
            f"sqlite:///{folder}/bench.db",
            context=Context(user_id="bench", mandate_id="m1", privilege="admin"),
        )
        db.ensure_schema(BenchTicket, TicketSyncState)
        local = db.repository(BenchTicket)
        tickets = TicketInterface(connector(fake), TicketMapping.from_data(SYNC_MAPPING), db=db,
                                  mandate_id="m1")  # fmt: skip
        tickets.sync(local)
        remote, mine = ids[: SYNC_CHANGED // 2], ids[SYNC_CHANGED // 2 : SYNC_CHANGED]
        for issue_id in remote:
            fake.edit(issue_id, summary=f"{issue_id} edited in Jira")
        records = {t.key: t for t in local.find()}
        for issue_id in mine:
            key = fake.issues[issue_id]["key"]
            local.update(records[key].id, {"summary": f"{key} edited here"})
        fake.requests.clear()
        report = tickets.sync(local)
        assert len(report.inbound) == len(remote) and not report.conflicts
        assert sum(1 for r in report.outbound if r.status == "updated") == len(mine)
        assert all(fake.issues[i]["fields"]["summary"].endswith("edited here") for i in mine)
        db.close()
    requests = len(fake.requests)
    minimal = (
        math.ceil(len(remote) / PAGE_SIZE)  # the changed issues
        + math.ceil(SYNC_TICKETS / 5000)  # the id-only scan for deletions
        + math.ceil(len(mine) / 100)  # current values of what is written
        + len(mine)  # one PUT per issue changed here
    )
    return (
        f"sync_requests: {requests} requests for {SYNC_TICKETS} tickets with "
        f"{SYNC_CHANGED} changed (minimal {minimal})"
    )


def main() -> None:
    print(bench_read(), flush=True)
    print(bench_write_concurrency(), flush=True)
    print(bench_write_429(), flush=True)
    print(bench_adf_roundtrip(), flush=True)
    print(bench_sync_requests(), flush=True)


if __name__ == "__main__":
    main()
