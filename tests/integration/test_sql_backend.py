"""SQL backend specifics on a real PostgreSQL: reconnects, streaming, additive schema,
and compare-and-set under concurrent writers."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from models import User
from models.base import Record
from repositories import (
    BackendUnavailable,
    ConcurrentModification,
    DuplicateRecord,
    InvalidQuery,
    connect,
)
from repositories.sql import SqlDatabase


def test_dropped_connection_is_retried_once_outside_a_transaction(pg_url: str) -> None:
    db = connect(pg_url)
    assert isinstance(db, SqlDatabase)
    db.ensure_schema(User)
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    assert killed and killed >= 1
    assert users.get(user.id) == user  # the dead pooled connection is replaced, once
    assert users.update(user.id, {"age": 5}).age == 5
    admin.dispose()
    db.close()


def test_unreachable_database_is_backend_unavailable() -> None:
    db = connect("postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(BackendUnavailable):
        db.repository(User).get("x")
    db.close()


def test_iter_streams_with_a_server_side_cursor(pg_url: str) -> None:
    db = connect(pg_url)
    db.ensure_schema(User)
    users = db.repository(User)
    users.create_many([User(username=f"u{i:05d}", mandate_id="m1") for i in range(2500)])
    seen = 0
    names = []
    for user in users.iter(batch_size=300, order_by=["username"]):
        seen += 1
        names.append(user.username)
        if seen == 1:  # other work on the same database while the stream is open
            users.create(User(username="zzz", mandate_id="m1"))
    assert names[:3] == ["u00000", "u00001", "u00002"]
    assert seen in (2500, 2501)
    db.close()


class Widget(Record):
    __table_name__ = "Widget"
    name: str


class WidgetV2(Record):
    __table_name__ = "Widget"
    name: str
    color: str | None = None
    owner_id: str | None = None


def test_ensure_schema_is_additive(pg_url: str) -> None:
    db = connect(pg_url)
    db.ensure_schema(Widget)
    db.repository(Widget).create(Widget(id="w1", name="old"))
    db.close()
    db2 = connect(pg_url)
    db2.ensure_schema(WidgetV2)
    engine = sa.create_engine(pg_url)
    inspector = sa.inspect(engine)
    assert {c["name"] for c in inspector.get_columns("Widget")} >= {"color", "ownerId"}
    assert "ix_Widget_ownerId" in {i["name"] for i in inspector.get_indexes("Widget")}
    engine.dispose()
    widgets = db2.repository(WidgetV2)
    assert widgets.get("w1") == WidgetV2(
        id="w1",
        name="old",
        created_at=widgets.get("w1").created_at,  # type: ignore[union-attr]
        created_by="system",
        modified_at=widgets.get("w1").modified_at,  # type: ignore[union-attr]
        modified_by="system",
    )
    assert widgets.update("w1", {"color": "red"}).color == "red"
    db2.ensure_schema(Widget)  # an older model never drops the new column
    assert widgets.get("w1").color == "red"  # type: ignore[union-attr]
    db2.close()


def test_compare_and_set_loses_no_update_under_concurrency(pg_url: str) -> None:
    db = connect(pg_url)
    db.ensure_schema(User)
    users = db.repository(User)
    user = users.create(User(username="counter", mandate_id="m1", age=0))
    conflicts = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal conflicts
        done = 0
        while done < 25:
            current = users.get(user.id)
            assert current is not None and current.age is not None
            try:
                users.update(
                    user.id, {"age": current.age + 1}, expected_modified_at=current.modified_at
                )
                done += 1
            except ConcurrentModification:
                with lock:
                    conflicts += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert users.get(user.id).age == 100  # type: ignore[union-attr]
    db.close()


def test_point_reads_survive_a_column_added_by_another_process(pg_url: str) -> None:
    db = connect(pg_url)
    db.ensure_schema(User)
    users = db.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    assert users.get(user.id) == user
    other = sa.create_engine(pg_url)
    with other.begin() as conn:
        conn.execute(sa.text('ALTER TABLE "User" ADD COLUMN "shoeSize" bigint'))
    other.dispose()
    assert users.get(user.id) == user
    assert users.get("missing") is None
    db.close()


def test_concurrent_upserts_of_one_new_id_all_succeed(pg_url: str) -> None:
    db = connect(pg_url)
    db.ensure_schema(User)
    users = db.repository(User)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        try:
            users.upsert(User(id="shared", username=f"writer{n}", mandate_id="m1"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    for _ in range(5):
        users.delete("shared")
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert users.count() == 1
    db.close()


def test_psycopg3_driver_works_too(pg_url: str) -> None:
    from sqlalchemy.engine import make_url

    from models import Property

    url = make_url(pg_url).set(drivername="postgresql+psycopg").render_as_string(False)
    db = connect(url)
    db.ensure_schema(Property)
    props = db.repository(Property)
    made = props.create_many(
        [Property(title=f"t{i}", mandate_id="m1", features={"n": i}) for i in range(30)]
    )
    assert props.get(made[3].id) == made[3]
    assert [p.title for p in props.find({"features__contains": {"n": 7}})] == ["t7"]
    assert props.count({"title__in": ["t1", "t2", None]}) == 2
    assert len(list(props.iter(batch_size=7))) == 30
    with db.transaction():
        props.update(made[0].id, {"price": 2.5}, expected_modified_at=made[0].modified_at)
    assert props.get(made[0].id).price == 2.5  # type: ignore[union-attr]
    late = [Property(id=made[0].id, title="duplicate", mandate_id="m1")]  # sent first
    late += [Property(title=f"n{i}", mandate_id="m1") for i in range(4)]
    late.append(Property(title="bad", mandate_id="m1", features={"k": float("nan")}))
    with pytest.raises(InvalidQuery, match="features"):  # refused after chunks were sent
        props.create_many(late, batch_size=2)
    with pytest.raises(DuplicateRecord):
        props.create_many(late[:-1], batch_size=2)
    assert props.count() == 30
    db.close()
