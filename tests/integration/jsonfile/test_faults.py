"""Fault tests of the JSON store with real processes: kill -9, contention, concurrency."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import pytest

from models import User
from repositories import LockTimeout
from repositories.jsonfile import JsonDatabase, check
from repositories.jsonstore.locks import read_holder
from tests.integration.jsonfile import workers
from tests.integration.jsonfile.children import reaped, run_workers

KILLS = 50


def open_users(path: Path) -> Any:
    return JsonDatabase(f"jsonfile://{path}", durability="full").repository(User)


class Ledger:
    """What the parent knows: acknowledged ages per id, and the one write in flight."""

    def __init__(self) -> None:
        self.expected: dict[str, int] = {}
        self.pending: tuple[str, list[str], int] | None = None

    def take(self, message: tuple[Any, ...]) -> None:
        if message[0] == "begin":
            self.pending = (message[1], message[2], message[3])
            return
        assert self.pending is not None and message == ("ack", self.pending[2])
        kind, ids, age = self.pending
        for rid in ids:
            if kind == "delete":
                del self.expected[rid]
            else:
                self.expected[rid] = age
        self.pending = None

    def verify(self, actual: dict[str, int | None]) -> None:
        """Every acknowledged write is there; only the in-flight one may or may not be."""
        kind, in_flight, age = self.pending or ("", [], -1)
        for rid, acked in self.expected.items():
            if rid in in_flight:
                assert actual.get(rid, acked) in (acked, age)
            else:
                assert actual.get(rid) == acked, f"acknowledged write to {rid} lost"
        for rid in actual.keys() - self.expected.keys():
            assert kind == "create" and rid in in_flight and actual[rid] == age
        self.expected = {rid: value for rid, value in actual.items() if value is not None}
        self.pending = None


@pytest.mark.timeout(120)
def test_kill_9_never_loses_an_acknowledged_write(ctx: ForkServerContext, tmp_path: Path) -> None:
    rng = random.Random(2026)
    ledger = Ledger()
    kills = mid_write = dirty = 0
    for round_no in range(KILLS):
        parent, child = ctx.Pipe(duplex=False)
        start = (round_no + 1) * 1_000_000
        existing = rng.sample(sorted(ledger.expected), min(len(ledger.expected), 40))
        process = ctx.Process(target=workers.churn, args=(str(tmp_path), start, existing, child))
        with reaped([process]):
            process.start()
            child.close()
            assert parent.poll(30) and parent.recv() == ("ready",)
            deadline = time.monotonic() + rng.uniform(0.002, 0.06)
            while time.monotonic() < deadline:
                if parent.poll(0.001):
                    ledger.take(parent.recv())
            os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            process.join(10)
            assert process.exitcode == -signal.SIGKILL
            kills += 1
            with contextlib.suppress(EOFError):
                while parent.poll(0):
                    ledger.take(parent.recv())  # sent before the kill: acknowledged
            parent.close()
        mid_write += ledger.pending is not None
        dirty += read_holder(tmp_path / "User") is not None
        # a fresh process's view: it recovers the table if the writer died holding the lock
        ledger.verify({u.id: u.age for u in open_users(tmp_path).find()})
        report = check(tmp_path)
        assert report.ok, report.problems()
    assert kills == KILLS and len(ledger.expected) > KILLS  # the loop really wrote
    # Where a kill lands is up to the scheduler; typically about half leave a table to
    # recover. A tenth is the floor that shows the recovery path really ran.
    assert mid_write >= KILLS // 10, f"only {mid_write} kills landed during a write"
    assert dirty >= KILLS // 10, f"only {dirty} kills left a table to recover"


@pytest.mark.timeout(120)
def test_four_processes_increment_one_counter_exactly(
    ctx: ForkServerContext, tmp_path: Path
) -> None:
    users = open_users(tmp_path)
    users.create(User(id="counter", username="c", mandate_id="m1", age=0))
    barrier = ctx.Barrier(4)
    done = run_workers(ctx, [(workers.increment, (str(tmp_path), 250, barrier))] * 4)
    assert done == ["done"] * 4
    assert open_users(tmp_path).get("counter").age == 1000  # type: ignore[union-attr]
    assert users.get("counter").age == 1000  # type: ignore[union-attr]  (the old view follows)
    assert check(tmp_path).ok


@pytest.mark.timeout(120)
def test_two_creators_never_lose_each_others_records(
    ctx: ForkServerContext, tmp_path: Path
) -> None:
    count = 300
    JsonDatabase(f"jsonfile://{tmp_path}").ensure_schema(User)
    barrier = ctx.Barrier(2)
    seen = run_workers(
        ctx,
        [(workers.create_many_records, (str(tmp_path), p, count, barrier)) for p in ("a", "b")],
    )
    assert seen == [2 * count, 2 * count]
    ids = {u.id for u in open_users(tmp_path).find()}
    assert ids == {f"{p}{i}" for p in "ab" for i in range(count)}
    report = check(tmp_path)  # metadata lists every record of both writers
    assert report.ok and report.tables[0].records == 2 * count, report.problems()


@pytest.mark.timeout(60)
def test_lock_timeout_names_the_holding_process(ctx: ForkServerContext, tmp_path: Path) -> None:
    held, release = ctx.Event(), ctx.Event()
    process = ctx.Process(target=workers.hold_lock, args=(str(tmp_path), held, release))
    with reaped([process]):
        process.start()
        assert held.wait(30)
        waiter = JsonDatabase(f"jsonfile://{tmp_path}", durability="none", lock_timeout=0.3)
        with pytest.raises(LockTimeout) as err:
            waiter.repository(User).create(User(username="late", mandate_id="m1"))
        assert err.value.holder_pid == process.pid and err.value.table == "User"
        release.set()
        process.join(30)
        assert process.exitcode == 0
    assert waiter.repository(User).create(User(username="late", mandate_id="m1"))
