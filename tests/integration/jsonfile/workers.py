"""Child-process bodies of the fault tests (started from a forkserver, so importable)."""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier, Event
from types import FrameType

from models import User
from repositories import Context, DuplicateRecord, RecordNotFound
from repositories.jsonfile import Durability, JsonDatabase


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


def mover(
    path: str, seed: int, ids: list[str], seconds: float, durability: Durability, conn: Connection
) -> None:
    """For `seconds`, move records between mandates A and B, renaming them alice <-> bob.

    A record is ``(A, alice)`` or ``(B, bob)``: every write flips both fields at once,
    and now and then a record is deleted and created again. Sends the number of writes.
    """
    db = JsonDatabase(f"jsonfile://{path}", durability=durability, lock_timeout=30)
    users = db.repository(User)
    rng = random.Random(seed)
    writes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rid = rng.choice(ids)
        current = users.get(rid)
        try:
            if current is None:
                mandate = rng.choice("AB")
                name = "alice" if mandate == "A" else "bob"
                users.create(User(id=rid, username=name, mandate_id=mandate))
            elif rng.random() < 0.1:
                users.delete(rid)
            else:
                moved = "B" if current.mandate_id == "A" else "A"
                name = "alice" if moved == "A" else "bob"
                users.update(rid, {"mandate_id": moved, "username": name})
        except (RecordNotFound, DuplicateRecord):
            continue  # the other mover got there first
        writes += 1
    db.close()
    conn.send(writes)


def watcher(path: str, ids: list[str], seconds: float, conn: Connection) -> None:
    """Query while others write; report every row that does not satisfy its query.

    Each view has its own cache, as separate processes would. Sends the wrong rows
    found (at most 20), the rows checked, and how many distinct (id, mandate) states
    were seen (showing the view followed the writes rather than a frozen picture).
    """
    url = f"jsonfile://{path}"
    tenant = JsonDatabase(url, Context("reader", "A", "admin"), durability="none")
    a_users = tenant.repository(User)
    system = JsonDatabase(url, durability="none").repository(User)
    wrong: list[str] = []
    checked = 0
    states: set[tuple[str, str]] = set()
    rng = random.Random(len(ids))

    def expect(label: str, found: list[User], mandate: str | None, name: str | None) -> None:
        nonlocal checked
        for user in found:
            checked += 1
            states.add((user.id, user.mandate_id))
            if (mandate is not None and user.mandate_id != mandate) or (
                name is not None and user.username != name
            ):
                wrong.append(f"{label}: {user.id} {user.mandate_id} {user.username}")

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        expect("tenant find()", a_users.find(), "A", None)
        expect("tenant find(username=bob)", a_users.find({"username": "bob"}), "A", "bob")
        expect("find(username=alice)", system.find({"username": "alice"}), None, "alice")
        expect(
            "find(mandate B, bob)", system.find({"mandate_id": "B", "username": "bob"}), "B", "bob"
        )
        got = a_users.get(rng.choice(ids))
        expect("tenant get", [] if got is None else [got], "A", None)
        page = a_users.find({"username__in": ["alice", "bob"]}, order_by=["-username"], limit=5)
        expect("tenant page", page, "A", None)
    conn.send((wrong[:20], checked, len(states)))


def die_mid_write(path: str, op: str, record_id: str) -> None:
    """Start `op` on `record_id` and SIGKILL this process the moment the record file was
    replaced (or unlinked): before the journal's commit line, as a crash would."""
    users = JsonDatabase(f"jsonfile://{path}", durability="full").repository(User)
    users.count()
    target = os.unlink if op == "delete" else os.replace

    def hook(frame: FrameType, event: str, arg: object) -> None:
        if event == "c_return" and arg is target and "jsonstore" in frame.f_code.co_filename:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.setprofile(hook)
    if op == "create":
        users.create(User(id=record_id, username="alice", mandate_id="A"))
    elif op == "delete":
        users.delete(record_id)
    else:
        users.update(record_id, {"mandate_id": "B", "username": "bob"})
    sys.setprofile(None)
    raise AssertionError("the write finished: the kill did not land")


#: The tenant-read tests' mandates and usernames, weighted so that a mandate's posting
#: is sometimes the smallest of a query's and sometimes the largest.
MANDATES = {"A": 70, "B": 5, "C": 25}
NAMES = {"common": 60, "mid": 30, "rare": 10}


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def reshuffle(path: str, seed: int, ids: list[str], seconds: float, conn: Connection) -> None:
    """For `seconds`, move records between `MANDATES` and rename them among `NAMES`
    (one field or both at once), delete some and create them again, in single writes and
    batches. Sends the number of writes."""
    db = JsonDatabase(f"jsonfile://{path}", durability="none", lock_timeout=30)
    users = db.repository(User)
    rng = random.Random(seed)
    writes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.05:  # a batch of records that are not there (deleted earlier)
            gone = [rid for rid in rng.sample(ids, 8) if users.get(rid) is None]
            users.create_many(
                [
                    User(id=r, username=pick(rng, NAMES), mandate_id=pick(rng, MANDATES))
                    for r in gone
                ]
            )
            writes += len(gone)
            continue
        rid = rng.choice(ids)
        current = users.get(rid)
        if current is None:
            users.create(User(id=rid, username=pick(rng, NAMES), mandate_id=pick(rng, MANDATES)))
        elif roll < 0.15:
            users.delete(rid)
        elif roll < 0.45:
            users.update(rid, {"mandate_id": pick(rng, MANDATES)})
        elif roll < 0.7:
            users.update(rid, {"username": pick(rng, NAMES)})
        else:
            users.update(rid, {"mandate_id": pick(rng, MANDATES), "username": pick(rng, NAMES)})
        writes += 1
    db.close()
    conn.send(writes)
