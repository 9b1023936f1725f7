"""Readers in one process, a writer in another: no row that does not satisfy its query.

The writer flips records between ``(mandate A, alice)`` and ``(mandate B, bob)``; a
reader must never hand a mandate-A user a record that its file says is in B, nor answer
``username="alice"`` with a record now named bob, whatever the timing, and must not do so
either after the writer was killed between replacing a record file and journaling it.
"""

from __future__ import annotations

import os
import signal
from multiprocessing.context import ForkServerContext
from pathlib import Path

import pytest

from models import User
from repositories import Context
from repositories.jsonfile import JsonDatabase, check
from repositories.jsonstore.locks import read_holder
from tests.integration.jsonfile import workers
from tests.integration.jsonfile.children import reaped, run_workers

RACE_SECONDS = 4.0


def seed(path: Path, count: int) -> list[str]:
    db = JsonDatabase(f"jsonfile://{path}", durability="none")
    ids = [f"u{i}" for i in range(count)]
    db.repository(User).create_many(
        [
            User(id=rid, username="alice" if i % 2 else "bob", mandate_id="A" if i % 2 else "B")
            for i, rid in enumerate(ids)
        ]
    )
    db.close()
    return ids


@pytest.mark.timeout(120)
def test_a_reader_never_returns_a_row_its_query_excludes(
    ctx: ForkServerContext, tmp_path: Path
) -> None:
    ids = seed(tmp_path, 24)
    path = str(tmp_path)
    results = run_workers(
        ctx,
        [
            (workers.mover, (path, 1, ids, RACE_SECONDS, "none")),
            (workers.mover, (path, 2, ids, RACE_SECONDS, "full")),
            (workers.watcher, (path, ids, RACE_SECONDS)),
        ],
        timeout=60,
    )
    fast_writes, durable_writes, (wrong, checked, states) = results
    assert wrong == [], f"{len(wrong)} wrong rows, e.g. {wrong[:5]}"
    # the race really ran: many writes, many rows checked, the reader saw records move
    assert fast_writes + durable_writes > 20, (fast_writes, durable_writes)
    assert checked > 1000 and states > len(ids), (checked, states)
    assert check(tmp_path).ok


@pytest.mark.timeout(60)
@pytest.mark.parametrize("op", ["update", "delete", "create"])
def test_a_writer_killed_between_file_and_journal_misleads_no_reader(
    ctx: ForkServerContext, tmp_path: Path, op: str
) -> None:
    seed(tmp_path, 6)
    target = "new" if op == "create" else "u1"  # u1 is (A, alice)
    url = f"jsonfile://{tmp_path}"
    # warm views in this process, loaded (and rows cached) before the writer starts
    a_users = JsonDatabase(url, Context("r", "A", "admin"), durability="none").repository(User)
    b_users = JsonDatabase(url, Context("r", "B", "admin"), durability="none").repository(User)
    system = JsonDatabase(url, durability="none").repository(User)
    before = {u.id for u in system.find()}
    assert {u.id for u in a_users.find()} == {"u1", "u3", "u5"}
    assert {u.id for u in b_users.find()} == {"u0", "u2", "u4"}

    process = ctx.Process(target=workers.die_mid_write, args=(str(tmp_path), op, target))
    with reaped([process]):
        process.start()
        pid = process.pid
        process.join(30)
        assert process.exitcode == -signal.SIGKILL
    assert read_holder(tmp_path / "User") == pid  # it died holding the lock

    # what the record file now says is what every reader answers, no writer needed
    on_disk = {p.stem for p in (tmp_path / "User").glob("*.json") if not p.stem.startswith("_")}
    expected = {"update": before, "delete": before - {"u1"}, "create": before | {"new"}}[op]
    assert on_disk == expected
    assert {u.id for u in system.find()} == expected
    alice = {u.id for u in system.find({"username": "alice"})}
    in_a = {u.id for u in a_users.find()}
    in_b = {u.id for u in b_users.find()}
    if op == "update":
        assert "u1" not in alice and "u1" not in in_a and "u1" in in_b
        assert a_users.get("u1") is None
        moved = b_users.get("u1")
        assert moved is not None and (moved.mandate_id, moved.username) == ("B", "bob")
        assert [u.id for u in system.find({"username": "bob", "mandate_id": "B"})].count("u1") == 1
    elif op == "delete":
        assert "u1" not in alice | in_a and a_users.get("u1") is None
        assert a_users.count() == 2
    else:
        assert "new" in alice and "new" in in_a and a_users.get("new") is not None
    assert read_holder(tmp_path / "User") is None  # a reader recovered the table
    fresh = JsonDatabase(url, Context("r", "A", "admin"), durability="none").repository(User)
    assert {u.id for u in fresh.find()} == in_a
    assert check(tmp_path).ok
    assert os.path.exists(tmp_path / "User" / "_journal.jsonl")
