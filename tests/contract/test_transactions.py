"""transaction(): all or nothing, nested blocks, and reads inside a block."""

from __future__ import annotations

import pytest

from models import Property, User
from repositories import Database, DuplicateRecord


class Boom(Exception):
    pass


def test_commit_on_success(db: Database) -> None:
    users = db.repository(User)
    with db.transaction():
        user = users.create(User(username="a", mandate_id="m1"))
        users.update(user.id, {"age": 3})
        assert users.get(user.id).age == 3  # type: ignore[union-attr]
    assert users.get(user.id).age == 3  # type: ignore[union-attr]


def test_rollback_on_exception_across_tables(db: Database) -> None:
    users, props = db.repository(User), db.repository(Property)
    kept = users.create(User(username="kept", mandate_id="m1", age=1))
    with pytest.raises(Boom), db.transaction():
        users.create(User(username="gone", mandate_id="m1"))
        users.update(kept.id, {"age": 99})
        props.create(Property(title="gone", mandate_id="m1"))
        users.delete(kept.id)
        raise Boom
    assert users.count() == 1 and props.count() == 0
    assert users.get(kept.id) == kept


def test_nested_block_rolls_back_alone(db: Database) -> None:
    users = db.repository(User)
    with db.transaction():
        users.create(User(id="outer", username="outer", mandate_id="m1"))
        with pytest.raises(Boom), db.transaction():
            users.create(User(id="inner", username="inner", mandate_id="m1"))
            raise Boom
        assert users.get("inner") is None
    assert users.get("outer") is not None and users.get("inner") is None


def test_failed_create_many_in_block_leaves_nothing(db: Database) -> None:
    users = db.repository(User)
    users.create(User(id="dup", username="x", mandate_id="m1"))
    with pytest.raises(Exception), db.transaction():
        users.create(User(id="fresh", username="y", mandate_id="m1"))
        users.create_many([User(id="dup", username="z", mandate_id="m1")])
    assert users.get("fresh") is None
    assert users.get("dup").username == "x"  # type: ignore[union-attr]


def test_streaming_inside_a_block_leaves_later_statements_alone(db: Database) -> None:
    users = db.repository(User)
    users.create_many([User(username=f"u{i}", mandate_id="m1") for i in range(5)])
    with db.transaction():
        streamed = [u.id for u in users.iter(batch_size=2)]
        assert len(streamed) == 5
        assert users.update(streamed[0], {"age": 1}).age == 1
        assert users.delete_many({"age__isnull": True}) == 4
        assert users.count() == 1
    assert [u.id for u in users.find()] == [streamed[0]]


def test_a_caught_duplicate_does_not_spoil_the_block(db: Database) -> None:
    users = db.repository(User)
    users.create(User(id="taken", username="old", mandate_id="m1"))
    with db.transaction():
        try:
            users.create(User(id="taken", username="new", mandate_id="m1"))
        except DuplicateRecord:
            users.update("taken", {"username": "new"})
        users.create(User(id="other", username="x", mandate_id="m1"))
    assert users.get("taken").username == "new"  # type: ignore[union-attr]
    assert users.get("other") is not None


def test_a_caught_failure_of_a_bulk_insert_does_not_spoil_the_block(db: Database) -> None:
    """COPY on PostgreSQL: a failed one is undone alone, as any other statement."""
    users = db.repository(User)
    users.create(User(id="taken", username="old", mandate_id="m1"))
    with db.transaction():
        with pytest.raises(DuplicateRecord):
            users.create_many(
                [User(username=f"n{i}", mandate_id="m1") for i in range(5)]
                + [User(id="taken", username="new", mandate_id="m1")]
            )
        assert users.update("taken", {"age": 7}).age == 7
        users.create(User(id="after", username="a", mandate_id="m1"))
    assert users.count() == 2 and users.get("taken").age == 7  # type: ignore[union-attr]
