"""Create, read, update, upsert, delete: the same behaviour on every backend."""

from __future__ import annotations

import itertools
import time

import pytest

from models import Property, User
from repositories import (
    ConcurrentModification,
    Context,
    Database,
    DuplicateRecord,
    InvalidQuery,
    RecordNotFound,
)


def test_create_fills_id_and_audit_fields(db: Database) -> None:
    before = time.time()
    user = db.repository(User).create(User(username="ada", mandate_id="m1"))
    assert len(user.id) == 32
    assert user.created_by == user.modified_by == "system"
    assert before <= user.created_at == user.modified_at <= time.time()  # type: ignore[operator]
    assert db.repository(User).get(user.id) == user


def test_input_audit_values_are_ignored(db: Database) -> None:
    forged = User(
        username="eve",
        mandate_id="m1",
        created_at=1.0,
        created_by="root",
        modified_at=2.0,
        modified_by="root",
    )
    stored = db.repository(User).create(forged)
    assert stored.created_by == "system" and stored.modified_by == "system"
    assert stored.created_at != 1.0 and stored.modified_at != 2.0
    fetched = db.repository(User).get(stored.id)
    assert fetched is not None and fetched.created_by == "system"


def test_audit_fields_use_storage_names(db: Database) -> None:
    user = db.repository(User).create(User(username="ada", mandate_id="m1"))
    dumped = user.model_dump()
    assert {"_createdAt", "_createdBy", "_modifiedAt", "_modifiedBy", "mandateId"} <= set(dumped)


def test_duplicate_id_raises_and_keeps_the_original(db: Database) -> None:
    users = db.repository(User)
    first = users.create(User(id="u1", username="first", mandate_id="m1"))
    with pytest.raises(DuplicateRecord) as err:
        users.create(User(id="u1", username="second", mandate_id="m1"))
    assert "u1" in str(err.value)
    assert users.get("u1") == first


def test_create_many_returns_all_and_is_all_or_nothing(db: Database) -> None:
    users = db.repository(User)
    created = users.create_many(
        [User(username=f"u{i}", mandate_id="m1") for i in range(25)], batch_size=10
    )
    assert len(created) == 25 and users.count() == 25
    assert {u.username for u in users.find()} == {f"u{i}" for i in range(25)}
    clash = [
        User(username="new", mandate_id="m1"),
        User(id=created[3].id, username="x", mandate_id="m1"),
    ]
    with pytest.raises(DuplicateRecord):
        users.create_many(clash)
    assert users.count() == 25
    with pytest.raises(DuplicateRecord):
        users.create_many(
            [
                User(id="same", username="a", mandate_id="m1"),
                User(id="same", username="b", mandate_id="m1"),
            ]
        )
    assert users.get("same") is None


def test_get_missing_is_none(db: Database) -> None:
    assert db.repository(User).get("nope") is None


def test_update_is_partial_and_accepts_either_name(db: Database) -> None:
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1", email="a@x"))
    changed = users.update(user.id, {"full_name": "Ada L.", "language": "de"})
    assert changed.full_name == "Ada L." and changed.language == "de"
    assert changed.email == "a@x" and changed.username == "ada"
    again = users.update(user.id, {"fullName": "Ada Lovelace"})
    assert again.full_name == "Ada Lovelace"
    assert users.get(user.id) == again


def test_update_skips_audit_fields_and_the_records_own_id(db: Database) -> None:
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    changed = users.update(
        user.id,
        {
            "id": user.id,
            "created_by": "mallory",
            "_createdAt": 0.0,
            "modified_by": "mallory",
            "_modifiedAt": 0.0,
            "age": 36,
        },
    )
    assert changed.age == 36 and changed.created_by == user.created_by
    assert changed.created_at == user.created_at and changed.modified_at > user.modified_at
    assert changed.modified_by == db.context.user_id
    assert users.get(user.id) == changed


def test_update_stamps_modified_and_keeps_created(db: Database) -> None:
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    other = db.with_context(Context(user_id="u2", mandate_id="m1", privilege="admin"))
    changed = other.repository(User).update(
        user.id, {"email": "x@y", "_createdBy": "forged", "_modifiedAt": 1.0}
    )
    assert changed.modified_by == "u2" and changed.created_by == "system"
    assert changed.created_at == user.created_at
    assert changed.modified_at > user.modified_at  # type: ignore[operator]


def test_modified_at_strictly_increases_on_back_to_back_updates(db: Database) -> None:
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    stamps = [user.modified_at]
    for i in range(20):
        stamps.append(users.update(user.id, {"age": i}).modified_at)
    assert all(b > a for a, b in itertools.pairwise(stamps))  # type: ignore[operator]


def test_update_missing_raises(db: Database) -> None:
    with pytest.raises(RecordNotFound):
        db.repository(User).update("nope", {"age": 3})


def test_update_rejects_bad_changes(db: Database) -> None:
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    with pytest.raises(InvalidQuery, match="unknown field"):
        users.update(user.id, {"shoe_size": 42})
    with pytest.raises(InvalidQuery, match="id"):
        users.update(user.id, {"id": "other"})
    with pytest.raises(InvalidQuery):
        users.update(user.id, {"age": "not a number"})
    with pytest.raises(InvalidQuery):
        users.update(user.id, {"username": None})
    assert users.get(user.id) == user


def test_optimistic_concurrency(db: Database) -> None:
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    first = users.update(user.id, {"age": 1}, expected_modified_at=user.modified_at)
    with pytest.raises(ConcurrentModification):
        users.update(user.id, {"age": 2}, expected_modified_at=user.modified_at)
    assert users.get(user.id).age == 1  # type: ignore[union-attr]
    with pytest.raises(ConcurrentModification):
        users.delete(user.id, expected_modified_at=user.modified_at)
    assert users.delete(user.id, expected_modified_at=first.modified_at) is True
    with pytest.raises(RecordNotFound):
        users.update(user.id, {"age": 3}, expected_modified_at=first.modified_at)


def test_upsert_creates_then_updates(db: Database) -> None:
    users = db.repository(User)
    created = users.upsert(User(id="u9", username="ada", mandate_id="m1"))
    assert users.count() == 1 and created.username == "ada"
    updated = users.upsert(User(id="u9", username="ada2", mandate_id="m1", age=7))
    assert updated.username == "ada2" and updated.age == 7
    assert updated.created_at == created.created_at
    assert updated.modified_at > created.modified_at  # type: ignore[operator]
    assert users.count() == 1


def test_delete_and_delete_many(db: Database) -> None:
    users = db.repository(User)
    rows = users.create_many([User(username=f"u{i}", mandate_id="m1", age=i) for i in range(10)])
    assert users.delete(rows[0].id) is True
    assert users.delete(rows[0].id) is False
    assert users.delete_many({"age__gte": 5}) == 5
    assert users.count() == 4
    with pytest.raises(InvalidQuery):
        users.delete_many(None)
    assert users.delete_many({}) == 4
    assert users.count() == 0


def test_initial_ids_in_system_table(db: Database) -> None:
    assert db.initial_id(User) is None
    db.set_initial_id(User, "u1")
    assert db.initial_id(User) == "u1"
    db.set_initial_id(User, "u2")
    db.set_initial_id(Property, "p1")
    assert db.initial_id(User) == "u2" and db.initial_id(Property) == "p1"


def test_with_context_is_cached(db: Database) -> None:
    ctx = Context(user_id="u1", mandate_id="m1", privilege="user")
    assert db.with_context(ctx) is db.with_context(ctx)
    assert db.with_context(ctx).context == ctx


def test_large_and_unicode_json_round_trip(db: Database) -> None:
    props = db.repository(Property)
    big = "ü" * 400_000 + "🙂"
    features = {"text": big, "nested": {"list": list(range(1000)), "deep": [[{"a": None}]]}}
    stored = props.create(Property(title="日本語 🙂", mandate_id="m1", features=features))
    fetched = props.get(stored.id)
    assert fetched is not None and fetched.features == features
    assert fetched.title == "日本語 🙂"


def test_timestamps_read_back_exactly_for_compare_and_set(db: Database) -> None:
    users = db.repository(User)
    users.create_many([User(username=f"u{i}", mandate_id="m1") for i in range(50)])
    for found in users.find():  # bulk reads must return the exact stored float
        assert users.update(found.id, {"age": 1}, expected_modified_at=found.modified_at)
    for streamed in users.iter(batch_size=7):
        fetched = users.get(streamed.id)
        assert fetched is not None and fetched.modified_at == streamed.modified_at
        users.delete(streamed.id, expected_modified_at=fetched.modified_at)
    assert users.count() == 0
