"""What the JSON store's index claims is checked against its files.

Record files edited by hand, ``_metadata.json`` or ``_journal.jsonl`` damaged in ways that
still parse, record files that cannot be read: every view answers what the files say,
or raises `StoreCorrupted` naming the file, the same way on every call.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from models import User
from repositories import Context, StoreCorrupted, connect
from repositories.jsonfile import JsonDatabase, check
from tests.unit.jsonfile.helpers import edit


def open_users(store: Path, mandate: str | None = None) -> Any:
    context = None if mandate is None else Context("reader", mandate, "admin")
    db = connect(f"jsonfile://{store}", context=context, durability="none")
    assert isinstance(db, JsonDatabase)
    return db.repository(User)


def make(store: Path) -> dict[str, Path]:
    users = open_users(store)
    users.create(User(id="r1", username="ada", mandate_id="m1"))
    users.create(User(id="r2", username="bob", mandate_id="m1"))
    users.create(User(id="r3", username="cy", mandate_id="m2"))
    users.database.close()
    return {rid: store / "User" / f"{rid}.json" for rid in ("r1", "r2", "r3")}


def ids(found: list[User]) -> list[str]:
    return sorted(u.id for u in found)


def test_a_record_edited_by_hand_reads_as_edited_in_every_view(tmp_path: Path) -> None:
    paths = make(tmp_path)
    warm_m2 = open_users(tmp_path, "m2")
    assert ids(warm_m2.find()) == ["r3"]  # loaded before the edit
    edit(paths["r1"], mandateId="m2", username="eve")
    m1, m2, system = open_users(tmp_path, "m1"), open_users(tmp_path, "m2"), open_users(tmp_path)
    assert ids(m1.find()) == ["r2"] and m1.get("r1") is None and m1.count() == 1
    assert ids(m2.find()) == ["r1", "r3"] and m2.get("r1").username == "eve"  # type: ignore[union-attr]
    assert system.find({"username": "ada"}) == []
    assert ids(system.find({"username": "eve"})) == ["r1"]
    # the fresh views took the edit into the index and journaled it: the warm one follows
    assert ids(warm_m2.find()) == ["r1", "r3"] and warm_m2.count() == 2
    assert check(tmp_path).ok


def test_a_hand_edit_is_caught_when_a_warm_view_reads_the_row(tmp_path: Path) -> None:
    paths = make(tmp_path)
    warm_m1, warm_m2 = open_users(tmp_path, "m1"), open_users(tmp_path, "m2")
    # loaded, r2's row not read yet (a cached row is served as cached: `with_context(refresh)`)
    assert warm_m1.get("r1") is not None and warm_m2.get("r3") is not None
    edit(paths["r2"], mandateId="m2", username="eve")
    assert ids(warm_m1.find()) == ["r1"]  # r2 read from its file: it is not in m1 any more
    assert warm_m1.get("r2") is None and warm_m1.find({"username": "bob"}) == []
    assert ids(warm_m2.find()) == ["r2", "r3"]  # the first view took the edit in
    assert ids(open_users(tmp_path).find({"username": "eve"})) == ["r2"]
    assert check(tmp_path).ok


def test_a_copied_store_opens_with_its_files_as_they_are(tmp_path: Path) -> None:
    users = open_users(tmp_path / "a")
    users.create_many([User(id=f"c{i}", username=f"u{i}", mandate_id="m1") for i in range(120)])
    users.database.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # new inodes: every fingerprint differs
    edit(tmp_path / "b" / "User" / "c7.json", username="renamed")
    copy = open_users(tmp_path / "b")
    assert copy.count() == 120 and ids(copy.find({"username": "renamed"})) == ["c7"]
    assert check(tmp_path / "b").ok


def test_metadata_damaged_but_still_json_is_reported_on_every_call(tmp_path: Path) -> None:
    make(tmp_path)
    meta = tmp_path / "User" / "_metadata.json"
    meta.write_bytes(meta.read_bytes().replace(b'"m2"', b'"m1"'))  # valid JSON, wrong index
    json.loads(meta.read_bytes())
    users = open_users(tmp_path, "m1")
    for _ in range(3):
        with pytest.raises(StoreCorrupted, match=r"_metadata\.json.*checksum"):
            users.find()
        with pytest.raises(StoreCorrupted, match=r"_metadata\.json"):
            open_users(tmp_path).count()
    report = check(tmp_path)
    assert not report.ok and [p.name for p, _ in report.all_corrupted_files] == ["_metadata.json"]
    assert check(tmp_path, repair=True).ok
    assert ids(open_users(tmp_path, "m1").find()) == ["r1", "r2"] and check(tmp_path).ok


def test_a_journal_line_damaged_but_still_json_is_reported(tmp_path: Path) -> None:
    users = open_users(tmp_path)
    users.create(User(id="r1", username="ada", mandate_id="m1"))  # not closed: in the journal
    journal = tmp_path / "User" / "_journal.jsonl"
    journal.write_bytes(journal.read_bytes().replace(b'"m1"', b'"m2"'))
    for _ in range(2):
        with pytest.raises(StoreCorrupted, match=r"_journal\.jsonl.*checksum"):
            open_users(tmp_path, "m2").find()
    assert not check(tmp_path).ok
    assert check(tmp_path, repair=True).ok
    assert open_users(tmp_path, "m2").find() == []
    assert ids(open_users(tmp_path, "m1").find()) == ["r1"]


def test_an_unreadable_record_is_never_counted_and_never_alternates(tmp_path: Path) -> None:
    paths = make(tmp_path)
    paths["r2"].write_bytes(paths["r2"].read_bytes()[:12])  # truncated in place
    warm = open_users(tmp_path, "m1")

    def behaves_consistently(users: Any) -> None:
        for _ in range(3):
            for call in (
                users.count,
                users.find,
                lambda: users.find({"username": "ada"}),
                lambda: users.get("r2"),
                lambda: users.update("r2", {"age": 1}),
                lambda: users.delete_many({"username": "bob"}),
            ):
                with pytest.raises(StoreCorrupted, match=r"r2\.json"):
                    call()
            assert users.get("r1").username == "ada"  # type: ignore[union-attr]
            assert ids(users.find({"id__in": ["r1", "r3"]})) == ["r1"]

    behaves_consistently(warm)
    behaves_consistently(open_users(tmp_path, "m1"))
    report = check(tmp_path, repair=True)  # a repair cannot fix a record: it stays reported
    assert not report.ok and [p.name for p, _ in report.all_corrupted_files] == ["r2.json"]
    behaves_consistently(warm)
    behaves_consistently(open_users(tmp_path, "m1"))
    assert not check(tmp_path).ok
    # fixed by hand: every view takes it back, no repair needed
    paths["r2"].write_text(json.dumps({"id": "r2", "username": "bob", "mandateId": "m1"}))
    assert warm.count() == 2 and ids(warm.find({"username": "bob"})) == ["r2"]
    assert open_users(tmp_path, "m1").count() == 2
    # removed by hand: likewise
    paths["r2"].write_bytes(b"{")
    with pytest.raises(StoreCorrupted):
        open_users(tmp_path, "m1").count()
    paths["r2"].unlink()
    fresh = open_users(tmp_path, "m1")
    with pytest.raises(StoreCorrupted, match="missing"):  # the metadata lists it again
        fresh.count()
    assert check(tmp_path, repair=True).ok
    assert open_users(tmp_path, "m1").count() == 1 and warm.count() == 1
