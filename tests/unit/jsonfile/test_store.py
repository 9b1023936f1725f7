"""The JSON-file store's own behaviour: layout, safety, corruption, caching, locks, check."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from models import Mandate, Property, User
from models.base import Record
from repositories import (
    Context,
    InvalidQuery,
    LockTimeout,
    RecordNotFound,
    RepositoryError,
    StoreCorrupted,
    connect,
)
from repositories.jsonfile import JsonDatabase, check
from repositories.jsonstore import writes as writes_module
from repositories.jsonstore.journal import encode_line
from repositories.jsonstore.locks import PID_FILE
from tests.unit.jsonfile.helpers import edit


class Escaping(Record):
    __table_name__ = "../outside"
    name: str = ""


class Reserved(Record):
    __table_name__ = "_system"
    name: str = ""


class Nested(Record):
    doc: dict[str, Any] = Field(default_factory=dict)
    docs: list[dict[str, Any]] = Field(default_factory=list)


class Loose(Record):
    doc: Any = None


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "app"


def open_db(store: Path, **options: Any) -> JsonDatabase:
    db = connect(f"jsonfile://{store}", durability="none", **options)
    assert isinstance(db, JsonDatabase)
    return db


def test_layout_is_the_original_one(store: Path) -> None:
    db = open_db(store)
    user = db.repository(User).create(User(username="ada", mandate_id="m1", full_name="Ada"))
    db.set_initial_id(User, user.id)
    record = json.loads((store / "User" / f"{user.id}.json").read_text("utf-8"))
    assert record["mandateId"] == "m1" and record["fullName"] == "Ada"
    assert record["_createdBy"] == "system" and "_modifiedAt" in record
    assert json.loads((store / "_system.json").read_text("utf-8")) == {"User": user.id}
    assert db.initial_id(User) == user.id and db.initial_id(Mandate) is None
    db.close()
    # a fresh process view: metadata lists it, and compaction writes it into the snapshot
    again = open_db(store)
    assert again.repository(User).get(user.id) == user
    state = again.repository(User).state
    state.lock.acquire()
    try:
        state.write_snapshot()
    finally:
        state.lock.release()
    meta = json.loads((store / "User" / "_metadata.json").read_text("utf-8"))
    assert meta["ids"] == [user.id] and meta["generation"] >= 1
    assert meta["indexes"]["mandateId"] == [["m1", [0]]]  # positions in "ids"


def test_directory_written_by_the_original_application_opens(store: Path) -> None:
    table = store / "User"
    table.mkdir(parents=True)
    for i in range(3):
        row = {"id": f"u{i}", "username": f"user{i}", "mandateId": "m1", "_createdAt": 1.0 + i}
        (table / f"u{i}.json").write_text(json.dumps(row, indent=2), "utf-8")
    (table / "_metadata.json").write_text(json.dumps({"recordIds": ["u0", "u1", "u2"]}))
    users = open_db(store).repository(User)
    assert [u.username for u in users.find(order_by="created_at")] == ["user0", "user1", "user2"]
    assert [u.id for u in users.find({"mandate_id": "m1", "username": "user1"})] == ["u1"]
    assert check(store).ok


@pytest.mark.parametrize(
    "bad_id", ["../x", "a/b", "a\\b", ".hidden", "..", "_metadata", "_METADATA", "/etc/x"]
)
def test_ids_that_could_escape_or_collide_are_refused(store: Path, bad_id: str) -> None:
    users = open_db(store).repository(User)
    with pytest.raises(InvalidQuery, match="record id"):
        users.create(User(id=bad_id, username="u", mandate_id="m1"))
    assert users.get(bad_id) is None
    assert not (store.parent / "x.json").exists()
    assert sorted(p.name for p in (store / "User").glob("*.json")) == ["_metadata.json"]


def test_too_long_ids_in_bytes_are_refused(store: Path) -> None:
    with pytest.raises(InvalidQuery, match="bytes"):
        open_db(store).repository(User).create(User(id="ü" * 150, username="u", mandate_id="m1"))


@pytest.mark.parametrize("model", [Escaping, Reserved])
def test_unsafe_table_names_are_refused(store: Path, model: type[Record]) -> None:
    with pytest.raises(InvalidQuery, match="table name"):
        open_db(store).repository(model).count()
    assert not (store.parent / "outside").exists()


def test_url_and_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(InvalidQuery, match="names no directory"):
        connect("jsonfile://")
    with pytest.raises(InvalidQuery, match="durability"):
        connect(f"jsonfile://{tmp_path}", durability="sometimes")
    with pytest.raises(InvalidQuery, match="lock_timeout"):
        connect(f"jsonfile://{tmp_path}", lock_timeout=-1)


def test_truncated_record_raises_naming_the_file(store: Path) -> None:
    db = open_db(store)
    user = db.repository(User).create(User(username="ada", mandate_id="m1"))
    path = store / "User" / f"{user.id}.json"
    path.write_bytes(path.read_bytes()[:10])
    fresh = open_db(store).repository(User)
    with pytest.raises(StoreCorrupted, match=re.escape(str(path))):
        fresh.get(user.id)
    with pytest.raises(StoreCorrupted, match=re.escape(str(path))):
        fresh.find({"username": "ada"})
    report = check(store, repair=True)
    assert not report.ok
    assert [p for p, _ in report.tables[0].corrupted_files] == [path]
    assert path.exists(), "repair never deletes a damaged record"


def test_corrupted_metadata_raises_naming_the_file(store: Path) -> None:
    open_db(store).repository(User).create(User(username="ada", mandate_id="m1"))
    meta = store / "User" / "_metadata.json"
    meta.write_text("{not json")
    with pytest.raises(StoreCorrupted, match=r"_metadata\.json"):
        open_db(store).repository(User).count()
    report = check(store, repair=True)
    assert report.tables[0].repaired
    assert open_db(store).repository(User).count() == 1
    assert check(store).ok


def test_record_with_a_foreign_id_is_corrupted(store: Path) -> None:
    db = open_db(store)
    user = db.repository(User).create(User(username="ada", mandate_id="m1"))
    edit(store / "User" / f"{user.id}.json", id="someone-else")
    with pytest.raises(StoreCorrupted, match="someone-else"):
        open_db(store).repository(User).get(user.id)


def test_a_missing_record_file_is_reported_not_dropped(store: Path) -> None:
    db = open_db(store)
    users = db.repository(User)
    kept, lost = (
        users.create(User(username="a", mandate_id="m1")),
        users.create(User(username="b", mandate_id="m1")),
    )
    (store / "User" / f"{lost.id}.json").unlink()
    with pytest.raises(StoreCorrupted, match=lost.id):
        open_db(store).repository(User).find()
    report = check(store)
    assert report.missing_files == [("User", lost.id)] and not report.ok
    assert check(store, repair=True).tables[0].repaired
    assert [u.id for u in open_db(store).repository(User).find()] == [kept.id]


def test_check_reports_and_repairs_temp_files_and_unlisted_records(store: Path) -> None:
    db = open_db(store)
    user = db.repository(User).create(User(username="a", mandate_id="m1"))
    db.close()
    table = store / "User"
    (table / ".x.json.123.0.tmp").write_text("half")
    (store / "._system.json.123.1.tmp").write_text("{")
    extra = {"id": "extra", "username": "hand-made", "mandateId": "m1"}
    (table / "extra.json").write_text(json.dumps(extra))
    report = check(store)
    assert [p.name for p in report.orphaned_temp_files] == [
        "._system.json.123.1.tmp",
        ".x.json.123.0.tmp",
    ]
    assert report.missing_from_metadata == [("User", "extra")]
    assert not report.ok and report.problems()
    assert check(store, repair=True).ok
    assert not (table / ".x.json.123.0.tmp").exists()
    assert not (store / "._system.json.123.1.tmp").exists()
    users = open_db(store).repository(User)
    assert {u.id for u in users.find()} == {user.id, "extra"}
    assert check(store).ok


def test_a_writer_that_died_is_recovered_on_open(store: Path) -> None:
    db = open_db(store)
    users = db.repository(User)
    user = users.create(User(username="a", mandate_id="m1"))
    db.close()
    table = store / "User"
    # what a writer killed between its record file and its journal line leaves behind
    (table / PID_FILE).write_text("999999\n")
    (table / ".late.json.999999.0.tmp").write_text("{")
    (table / "late.json").write_text(json.dumps({"id": "late", "username": "l", "mandateId": "m1"}))
    users = open_db(store).repository(User)
    assert {u.id for u in users.find({"mandate_id": "m1"})} == {user.id, "late"}
    assert users.find({"username": "l"})[0].id == "late"  # the index knows it too
    assert not (table / ".late.json.999999.0.tmp").exists()
    assert check(store).ok


def test_another_process_view_follows_every_write(store: Path) -> None:
    writer, reader = open_db(store), open_db(store)  # two cores: as two processes
    w, r = writer.repository(User), reader.repository(User)
    assert r.count() == 0
    user = w.create(User(username="ada", mandate_id="m1"))
    assert r.get(user.id) == user
    assert [u.id for u in r.find({"username": "ada"})] == [user.id]
    changed = w.update(user.id, {"username": "grace"})
    assert r.get(user.id) == changed
    assert r.find({"username": "ada"}) == [] and r.find({"username": "grace"}) == [changed]
    w.delete(user.id)
    assert r.get(user.id) is None and r.count() == 0


def test_views_follow_across_compactions(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writes_module, "COMPACT_BYTES", 600)
    writer, reader = open_db(store), open_db(store)
    w, r = writer.repository(User), reader.repository(User)
    assert r.count() == 0
    ids = [w.create(User(username=f"u{i}", mandate_id="m1")).id for i in range(30)]
    for i, rid in enumerate(ids[:10]):
        w.update(rid, {"age": i})
        assert r.get(rid).age == i  # type: ignore[union-attr]
    w.delete_many({"username__in": ["u20", "u21"]})
    assert r.count() == 28 and r.count({"age__isnull": False}) == 10
    assert open_db(store).repository(User).count() == 28
    assert check(store).ok


def test_lock_timeout_names_the_table_and_holder(store: Path) -> None:
    holder, waiter = open_db(store), open_db(store, lock_timeout=0.2)
    holder.ensure_schema(User)
    with holder.transaction(User):
        holder.repository(User).count()
        with pytest.raises(LockTimeout) as err:
            waiter.repository(User).create(User(username="x", mandate_id="m1"))
    assert err.value.table == "User" and err.value.holder_pid == os.getpid()
    assert "User" in str(err.value)
    assert waiter.repository(User).create(User(username="x", mandate_id="m1"))


def test_out_of_order_lock_fails_fast_instead_of_deadlocking(store: Path) -> None:
    first, second = open_db(store, lock_timeout=30), open_db(store, lock_timeout=30)
    first.ensure_schema(User, Mandate)
    with second.transaction(Mandate):
        second.repository(Mandate).count()
        with first.transaction(User):
            first.repository(User).count()
            # Mandate sorts before User: waiting could deadlock, so it is only tried
            with pytest.raises(LockTimeout):
                first.repository(Mandate).create(Mandate(name="m"))
    with first.transaction(Mandate, User):  # declared up front: locked in order
        first.repository(User).create(User(username="u", mandate_id="m1"))
        first.repository(Mandate).create(Mandate(name="m"))
    assert first.repository(Mandate).count() == 1


def test_rollback_restores_the_exact_files(store: Path) -> None:
    db = open_db(store)
    users = db.repository(User)
    user = users.create(User(username="a", mandate_id="m1"))
    before = (store / "User" / f"{user.id}.json").read_bytes()
    with pytest.raises(RuntimeError), db.transaction():
        users.update(user.id, {"username": "b"})
        users.create(User(id="new", username="n", mandate_id="m1"))
        raise RuntimeError("boom")
    assert (store / "User" / f"{user.id}.json").read_bytes() == before
    assert not (store / "User" / "new.json").exists()
    other = open_db(store).repository(User)
    assert other.find({"username": "a"}) == [user] and other.get("new") is None
    assert check(store).ok


def test_returned_records_do_not_share_the_cache(store: Path) -> None:
    repo = open_db(store).repository(Nested)
    stored = repo.create(Nested(id="n", doc={"a": {"b": [1, 2]}}, docs=[{"c": {"d": 1}}]))
    stored.doc["a"]["b"].append(3)
    stored.docs[0]["c"]["d"] = 2
    fetched = repo.get("n")
    assert fetched is not None and fetched.doc == {"a": {"b": [1, 2]}}
    assert fetched.docs == [{"c": {"d": 1}}]
    fetched.doc["a"]["b"].append(4)
    fetched.docs[0]["c"]["d"] = 3
    again = repo.find()[0]
    assert again.doc == {"a": {"b": [1, 2]}} and again.docs == [{"c": {"d": 1}}]
    loose = open_db(store).repository(Loose)
    loose.create(Loose(id="l", doc={"x": [1]}))
    got = loose.get("l")
    assert got is not None
    got.doc["x"].append(2)
    assert loose.find()[0].doc == {"x": [1]}


def test_clear_cache_and_with_context_refresh(store: Path) -> None:
    db = open_db(store)
    user = db.repository(User).create(User(username="a", mandate_id="m1"))
    edit(store / "User" / f"{user.id}.json", fullName="edited by hand")  # the cache cannot know
    assert db.repository(User).get(user.id).full_name is None  # type: ignore[union-attr]
    admin = db.with_context(Context("u2", "m1", "admin"), refresh=True)
    assert admin.repository(User).get(user.id).full_name == "edited by hand"  # type: ignore[union-attr]
    assert db.with_context(Context("u2", "m1", "admin")) is admin


def test_update_and_delete_of_missing_records(store: Path) -> None:
    users = open_db(store).repository(User)
    with pytest.raises(RecordNotFound):
        users.update("ghost", {"age": 1})
    assert users.delete("ghost") is False


def test_full_durability_round_trip(tmp_path: Path) -> None:
    db = connect(f"jsonfile://{tmp_path / 'full'}")
    props = db.repository(Property)
    created = props.create_many([Property(title=f"p{i}", mandate_id="m1") for i in range(5)])
    props.update(created[0].id, {"price": 1.5})
    assert props.delete(created[1].id)
    assert props.count() == 4 and props.get(created[0].id).price == 1.5  # type: ignore[union-attr]
    db.close()
    assert check(tmp_path / "full").ok


def test_a_file_we_do_not_know_is_never_overwritten(store: Path) -> None:
    users = open_db(store).repository(User)
    users.count()  # the table is loaded: a file appearing after this is unknown to it
    (store / "User").mkdir(parents=True, exist_ok=True)
    stray = store / "User" / "stray.json"
    stray.write_text('{"precious": true}')
    with pytest.raises(InvalidQuery, match="exists but is not a record"):
        users.create(User(id="stray", username="u", mandate_id="m1"))
    assert stray.read_text() == '{"precious": true}'


def test_a_write_that_breaks_off_leaves_the_table_to_recover(store: Path) -> None:
    db = open_db(store)
    users = db.repository(User)
    user = users.create(User(username="a", mandate_id="m1"))
    path = store / "User" / f"{user.id}.json"
    original = path.read_bytes()
    path.unlink()
    path.mkdir()  # os.replace onto a directory fails halfway through the update
    with pytest.raises(RepositoryError, match="write failed"):
        users.update(user.id, {"username": "b"})
    assert (store / "User" / PID_FILE).read_text().strip() == str(os.getpid())
    path.rmdir()
    path.write_bytes(original)
    assert users.get(user.id) == user  # recovered from the files on the next call
    assert (store / "User" / PID_FILE).read_text().strip() == ""
    assert check(store).ok


def test_threads_of_one_process_serialise_on_the_table(store: Path) -> None:
    db = open_db(store, lock_timeout=30)
    users = db.repository(User)
    users.create(User(id="counter", username="c", mandate_id="m1", age=0))

    def work() -> None:
        for _ in range(50):
            with db.transaction(User):
                current = users.get("counter")
                assert current is not None and current.age is not None
                users.update("counter", {"age": current.age + 1})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert users.get("counter").age == 200  # type: ignore[union-attr]
    assert open_db(store).repository(User).get("counter").age == 200  # type: ignore[union-attr]


def test_a_clean_close_folds_the_journal_into_the_metadata(store: Path) -> None:
    db = open_db(store)
    users = db.repository(User)
    kept = users.create_many([User(username=f"u{i}", mandate_id="m1") for i in range(3)])
    users.delete(kept[0].id)
    users.update(kept[1].id, {"mandate_id": "m2"})
    db.close()
    meta = json.loads((store / "User" / "_metadata.json").read_text("utf-8"))
    assert meta["ids"] == sorted(u.id for u in kept[1:])
    groups = {value: [meta["ids"][k] for k in ks] for value, ks in meta["indexes"]["mandateId"]}
    assert groups == {"m1": [kept[2].id], "m2": [kept[1].id]}
    journal = (store / "User" / "_journal.jsonl").read_text("utf-8").splitlines()
    assert len(journal) == 1 and json.loads(journal[0][9:])["base"] == meta["generation"]
    assert open_db(store).repository(User).count({"mandate_id": "m2"}) == 1
    assert check(store).ok


def test_a_damaged_journal_is_reported_and_repaired(store: Path) -> None:
    db = open_db(store)
    db.repository(User).create(User(username="a", mandate_id="m1"))
    journal = store / "User" / "_journal.jsonl"
    journal.write_bytes(journal.read_bytes() + b"{garbage}\n")
    with pytest.raises(StoreCorrupted, match=r"_journal\.jsonl"):
        open_db(store).repository(User).count()
    report = check(store)
    assert [p for p, _ in report.all_corrupted_files] == [journal] and not report.ok
    repaired = check(store, repair=True)
    assert repaired.tables[0].repaired and repaired.ok
    assert open_db(store).repository(User).count() == 1 and check(store).ok


def test_a_journal_from_before_a_reboot_is_derived_again(store: Path) -> None:
    db = open_db(store)
    user = db.repository(User).create(User(username="before", mandate_id="m1"))
    db.close()
    # a power failure after the record file was synced but before its journal line was
    # written: the file has the new value, the metadata still the old one
    path = store / "User" / f"{user.id}.json"
    path.write_text(json.dumps({**json.loads(path.read_text("utf-8")), "username": "after"}))
    journal = store / "User" / "_journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    header = {**json.loads(lines[0][9:]), "boot": "an-earlier-boot"}
    journal.write_bytes(b"".join([encode_line(header, "User"), *lines[1:]]))
    users = open_db(store).repository(User)
    assert [u.id for u in users.find({"username": "after"})] == [user.id]
    assert users.find({"username": "before"}) == []
    assert check(store).ok


def test_a_record_that_does_not_validate_is_corrupted(store: Path) -> None:
    users = open_db(store).repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    path = store / "User" / f"{user.id}.json"
    path.write_text(json.dumps({**json.loads(path.read_text("utf-8")), "age": "old"}))
    fresh = open_db(store).repository(User)
    with pytest.raises(StoreCorrupted, match=user.id):
        fresh.get(user.id)
    with pytest.raises(StoreCorrupted, match=user.id):
        fresh.find({"mandate_id": "m1"})
