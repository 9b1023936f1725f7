"""Tenant-scoped reads over several mandates: exactly the context's rows, never another's.

An access-scoped query is planned from its smallest posting (the mandate's, or the
condition's, or the id) and probes the others. The records are spread over mandates of
very different sizes and usernames of very different frequencies, so both orders are
taken; every answer is compared with what the record files themselves say. Another
process then moves, renames, deletes and creates records while this one reads through
warm views: no row outside the reader's scope or conditions, and afterwards the same
answers as the files.
"""

from __future__ import annotations

import json
import random
import time
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import pytest

from models import User
from repositories import Context
from repositories.jsonfile import JsonDatabase, check
from tests.integration.jsonfile import workers
from tests.integration.jsonfile.children import reaped
from tests.integration.jsonfile.workers import MANDATES, NAMES, pick

RACE_SECONDS = 3.0
Truth = dict[str, tuple[str, str]]  # id -> (mandate, username), as the files say


def seed(path: Path, count: int) -> list[str]:
    rng = random.Random(11)
    ids = [f"u{i:04d}" for i in range(count)]
    db = JsonDatabase(f"jsonfile://{path}", durability="none")
    db.repository(User).create_many(
        [User(id=rid, username=pick(rng, NAMES), mandate_id=pick(rng, MANDATES)) for rid in ids]
    )
    db.close()
    return ids


def on_disk(path: Path) -> Truth:
    """Every record as its file holds it (not through the store's index)."""
    truth: Truth = {}
    for file in (path / "User").glob("*.json"):
        if file.name.startswith("_"):
            continue
        row = json.loads(file.read_bytes())
        truth[row["id"]] = (row["mandateId"], row["username"])
    return truth


def views(path: Path) -> dict[str | None, Any]:
    """A user of each mandate, and the system (None), each with its own cache."""
    url = f"jsonfile://{path}"
    out: dict[str | None, Any] = {None: JsonDatabase(url, durability="none").repository(User)}
    for mandate in MANDATES:
        context = Context(f"reader-{mandate}", mandate, "user")
        out[mandate] = JsonDatabase(url, context, durability="none").repository(User)
    return out


def pages(repo: Any, where: dict[str, Any] | None, limit: int) -> list[str]:
    """The ids of every keyset page of `where`, in order."""
    paged: list[str] = []
    after = None
    while True:
        page = repo.page(where, limit=limit, after=after)
        paged += [u.id for u in page.items]
        if page.next is None:
            return paged
        after = page.next


def answers_as_files_say(repo: Any, mandate: str | None, truth: Truth, ids: list[str]) -> None:
    """Every kind of read in `repo`'s scope gives what the files say, and nothing more."""
    visible = {rid: v for rid, v in truth.items() if mandate is None or v[0] == mandate}

    def where(names: set[str]) -> list[str]:
        return sorted(rid for rid, (_, name) in visible.items() if name in names)

    for rid in [*ids, "never-there"]:
        got = repo.get(rid)
        if rid in visible:
            assert got is not None and (got.mandate_id, got.username) == visible[rid], rid
        else:
            assert got is None, (mandate, rid, got)
    assert [u.id for u in repo.find()] == sorted(visible)
    assert repo.count() == len(visible)
    everyone = sorted(visible)
    assert [u.id for u in repo.find(limit=5, offset=2)] == everyone[2:7]
    assert pages(repo, None, 40) == everyone
    assert [u.id for u in repo.iter(batch_size=9)] == everyone
    for name in NAMES:
        expected = where({name})
        assert [u.id for u in repo.find({"username": name})] == expected, (mandate, name)
        assert repo.count({"username": name}) == len(expected)
        assert [u.id for u in repo.find({"username": name}, limit=3, offset=1)] == expected[1:4]
        assert pages(repo, {"username": name}, 7) == expected
        assert [u.id for u in repo.iter({"username": name}, batch_size=4)] == expected
    both = where({"rare", "mid"})
    assert [u.id for u in repo.find({"username__in": ["rare", "mid"]})] == both
    some = ids[::7]
    chosen = [u.id for u in repo.find({"id__in": some, "username__in": ["common", "rare"]})]
    assert chosen == [rid for rid in sorted(some) if rid in where({"common", "rare"})]
    assert repo.find({"username": "nobody"}) == []


def no_foreign_rows(repo: Any, mandate: str | None, ids: list[str], rng: random.Random) -> int:
    """Query once of each kind; assert every row satisfies scope and conditions as the
    row itself says (it is what its file held). Returns the rows checked."""
    checked = 0

    def ok(users: list[User], name: str | None) -> None:
        nonlocal checked
        for user in users:
            checked += 1
            assert mandate is None or user.mandate_id == mandate, (mandate, user)
            assert name is None or user.username == name, (name, user)

    name = pick(rng, NAMES)
    ok(repo.find({"username": name}), name)
    ok(repo.find({"username": name}, limit=5), name)
    ok(repo.find(), None)
    got = repo.get(rng.choice(ids))
    ok([] if got is None else [got], None)
    ok(repo.find({"id__in": rng.sample(ids, 10)}), None)
    ok(repo.page({"username": name}, limit=5).items, name)
    ok(list(repo.iter({"username": name}, batch_size=3)), name)
    return checked


@pytest.mark.timeout(120)
def test_tenant_reads_give_exactly_the_mandates_rows(tmp_path: Path) -> None:
    ids = seed(tmp_path, 400)
    truth = on_disk(tmp_path)
    sizes = {m: sum(1 for v in truth.values() if v[0] == m) for m in MANDATES}
    assert sizes["B"] < 40 < sizes["A"], sizes  # both plan orders are taken
    for mandate, repo in views(tmp_path).items():
        answers_as_files_say(repo, mandate, truth, ids)


@pytest.mark.timeout(60)
def test_a_page_skips_a_record_whose_file_no_longer_matches(tmp_path: Path) -> None:
    ids = seed(tmp_path, 400)
    truth = on_disk(tmp_path)
    common_in_a = sorted(r for r, v in truth.items() if v == ("A", "common"))
    repo = views(tmp_path)["A"]
    assert repo.count({"username": "rare"}) > 0  # loaded; no common record read yet
    # edited by hand behind the store's back: the index still says (A, common)
    for record_id in common_in_a[:2]:
        path = tmp_path / "User" / f"{record_id}.json"
        path.write_text(json.dumps({**json.loads(path.read_bytes()), "username": "edited"}))
    page = [u.id for u in repo.find({"username": "common"}, limit=5)]
    assert page == common_in_a[2:7]
    assert [u.id for u in repo.find({"username": "edited"})] == common_in_a[:2]
    assert answers_as_files_say(repo, "A", on_disk(tmp_path), ids) is None


@pytest.mark.timeout(120)
def test_tenant_reads_stay_exact_while_another_process_writes(
    ctx: ForkServerContext, tmp_path: Path
) -> None:
    ids = seed(tmp_path, 300)
    readers = views(tmp_path)
    truth = on_disk(tmp_path)
    for mandate, repo in readers.items():  # warm: loaded, rows cached
        answers_as_files_say(repo, mandate, truth, ids)

    parent, child = ctx.Pipe(duplex=False)
    writer = ctx.Process(
        target=workers.reshuffle, args=(str(tmp_path), 5, ids, RACE_SECONDS, child)
    )
    rng = random.Random(3)
    checked = 0
    with reaped([writer]):
        writer.start()
        child.close()
        deadline = time.monotonic() + 60
        while not parent.poll(0) and time.monotonic() < deadline:
            for mandate, repo in readers.items():
                checked += no_foreign_rows(repo, mandate, ids, rng)
        assert parent.poll(30), "the writer died: see stderr"
        writes = parent.recv()
        writer.join(30)
        assert writer.exitcode == 0
    parent.close()
    assert writes > 50 and checked > 1000, (writes, checked)

    before, truth = truth, on_disk(tmp_path)
    moved = sum(1 for rid, v in truth.items() if before.get(rid, v)[0] != v[0])
    assert moved > 10 and len(truth) > 100, (moved, len(truth))
    for mandate, repo in readers.items():  # the same warm views, after the writes
        answers_as_files_say(repo, mandate, truth, ids)
    for mandate, repo in views(tmp_path).items():  # and fresh ones
        answers_as_files_say(repo, mandate, truth, ids)
    assert check(tmp_path).ok
