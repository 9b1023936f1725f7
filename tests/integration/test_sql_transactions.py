"""Transactions on PostgreSQL: every statement under the same savepoint rule, so a caught
error (a lock or statement timeout, a deadlock, a value the server's encoding refuses)
leaves the block usable, as on SQLite and the JSON store; each error precisely typed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from models import Property, User
from repositories import (
    BackendUnavailable,
    InvalidQuery,
    StatementTimeout,
    TransactionConflict,
    connect,
)
from repositories.sql import SqlDatabase


def _with_settings(url: str, **settings: str) -> str:
    parsed = make_url(url)
    options = parsed.query.get("options", "")
    extra = " ".join(f"-c{name}={value}" for name, value in settings.items())
    return parsed.update_query_dict({"options": f"{options} {extra}".strip()}).render_as_string(
        hide_password=False
    )


@pytest.fixture
def other(pg_url: str) -> Iterator[sa.Connection]:
    """A second session on the same database (holds locks against ours)."""
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def _open(url: str) -> SqlDatabase:
    db = connect(url)
    assert isinstance(db, SqlDatabase)
    db.ensure_schema(User, Property)
    return db


def test_a_caught_lock_timeout_from_an_update_leaves_the_block_usable(
    pg_url: str, other: sa.Connection
) -> None:
    db = _open(_with_settings(pg_url, lock_timeout="200ms"))
    users = db.repository(User)
    locked = users.create(User(username="locked", mandate_id="m1", age=1))
    free = users.create(User(username="free", mandate_id="m1", age=1))
    other.execute(sa.text('SELECT 1 FROM "User" WHERE id = :i FOR UPDATE'), {"i": locked.id})
    with db.transaction():
        users.create(User(id="before", username="b", mandate_id="m1"))
        with pytest.raises(StatementTimeout) as caught:
            users.update(locked.id, {"age": 2})
        assert not isinstance(caught.value, BackendUnavailable)
        users.update(free.id, {"age": 2})  # the block goes on
        users.create(User(id="after", username="a", mandate_id="m1"))
    other.rollback()
    assert users.get("before") is not None and users.get("after") is not None
    assert users.get(free.id).age == 2  # type: ignore[union-attr]
    assert users.get(locked.id).age == 1  # type: ignore[union-attr]
    db.close()


def test_a_statement_timeout_on_a_read_is_typed_in_and_out_of_a_block(
    pg_url: str, other: sa.Connection
) -> None:
    db = _open(_with_settings(pg_url, statement_timeout="200ms"))
    users, props = db.repository(User), db.repository(Property)
    users.create(User(username="x", mandate_id="m1"))
    other.execute(sa.text('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE'))
    with pytest.raises(StatementTimeout):
        users.find()
    with db.transaction():
        with pytest.raises(StatementTimeout):
            users.count()
        with pytest.raises(StatementTimeout):
            list(users.iter())
        props.create(Property(id="p", title="still fine", mandate_id="m1"))
    other.rollback()
    assert props.get("p") is not None and users.count() == 1
    db.close()


def test_a_deadlock_is_a_transaction_conflict_and_the_block_goes_on(pg_url: str) -> None:
    db = _open(pg_url)
    users = db.repository(User)
    one = users.create(User(username="one", mandate_id="m1", age=0))
    two = users.create(User(username="two", mandate_id="m1", age=0))
    barrier = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def worker(first: str, second: str) -> None:
        with db.transaction():
            users.update(first, {"age": 1})
            barrier.wait()
            try:
                users.update(second, {"age": 1})
                outcomes.append("updated")
            except TransactionConflict:
                outcomes.append("conflict")
            users.create(User(username=f"after {first}", mandate_id="m1"))

    threads = [
        threading.Thread(target=worker, args=(one.id, two.id)),
        threading.Thread(target=worker, args=(two.id, one.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict", "updated"]
    assert users.count({"username__in": [f"after {one.id}", f"after {two.id}"]}) == 2
    db.close()


def test_text_the_server_encoding_cannot_hold_is_invalid_query(pg_database_url: str) -> None:
    name = f"latin1_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'LATIN1' "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
        )
    try:
        db = _open(make_url(pg_database_url).set(database=name).render_as_string(False))
        users = db.repository(User)
        with db.transaction():
            with pytest.raises(InvalidQuery, match="encoding"):
                users.create(User(username="日本", mandate_id="m1"))
            with pytest.raises(InvalidQuery, match="encoding"):
                users.create_many([User(username=f"ü{i} → ok?", mandate_id="m1") for i in range(3)])
            users.create(User(id="latin", username="Zürich", mandate_id="m1"))
        assert users.get("latin").username == "Zürich"  # type: ignore[union-attr]
        assert users.count() == 1
        db.close()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
