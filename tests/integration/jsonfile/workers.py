"""Child-process bodies of the fault tests (started from a forkserver, so importable)."""

from __future__ import annotations

import random
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier, Event

from models import User
from repositories.jsonfile import JsonDatabase


def churn(path: str, start: int, existing: list[str], conn: Connection) -> None:
    """Create, update, delete and batch-create forever; announce each op, then ack it.

    The parent kills this process with SIGKILL at a random moment: every ``ack`` it
    received is a write that returned, so it must be on disk, intact.
    """
    db = JsonDatabase(f"jsonfile://{path}", durability="full", lock_timeout=30)
    users = db.repository(User)
    rng = random.Random(start)
    ids = list(existing)
    users.count()
    conn.send(("ready",))
    n = start
    while True:
        n += 1
        roll = rng.random()
        if not ids or roll < 0.35:
            rid = f"r{n}"
            conn.send(("begin", "create", [rid], n))
            users.create(User(id=rid, username=f"u{n}", mandate_id="m1", age=n))
            ids.append(rid)
        elif roll < 0.45:
            batch = [f"r{n}-{i}" for i in range(5)]
            conn.send(("begin", "create", batch, n))
            users.create_many([User(id=b, username="b", mandate_id="m1", age=n) for b in batch])
            ids.extend(batch)
        elif roll < 0.55:
            rid = ids.pop(rng.randrange(len(ids)))
            conn.send(("begin", "delete", [rid], n))
            assert users.delete(rid)
        else:
            rid = rng.choice(ids)
            conn.send(("begin", "update", [rid], n))
            users.update(rid, {"age": n})
        conn.send(("ack", n))


def increment(path: str, times: int, barrier: Barrier, conn: Connection) -> None:
    """Read-modify-write one counter `times` times, each inside a transaction."""
    db = JsonDatabase(f"jsonfile://{path}", durability="full", lock_timeout=60)
    users = db.repository(User)
    barrier.wait()
    for _ in range(times):
        with db.transaction(User):
            counter = users.get("counter")
            assert counter is not None and counter.age is not None
            users.update("counter", {"age": counter.age + 1})
    conn.send("done")


def create_many_records(
    path: str, prefix: str, count: int, barrier: Barrier, conn: Connection
) -> None:
    """Create `count` records one by one and in small batches, then report what it sees."""
    db = JsonDatabase(f"jsonfile://{path}", durability="none", lock_timeout=60)
    users = db.repository(User)
    barrier.wait()
    i = 0
    while i < count:
        if i % 50 == 0 and i + 10 <= count:
            users.create_many(
                [User(id=f"{prefix}{i + k}", username=prefix, mandate_id="m1") for k in range(10)]
            )
            i += 10
        else:
            users.create(User(id=f"{prefix}{i}", username=prefix, mandate_id="m1"))
            i += 1
    barrier.wait()  # both writers are done: each view must now see everything
    conn.send(users.count())


def hold_lock(path: str, held: Event, release: Event) -> None:
    """Hold the User table's lock (in a transaction) until told to let go."""
    db = JsonDatabase(f"jsonfile://{path}", durability="none")
    with db.transaction(User):
        db.repository(User).count()
        held.set()
        release.wait(30)
