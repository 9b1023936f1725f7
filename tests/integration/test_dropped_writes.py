"""Writes whose reply never arrives: a real PostgreSQL behind a proxy that cuts the
connection right after the server's CommandComplete (the statement ran, and in
autocommit committed; the client never hears of it). No false DuplicateRecord,
ConcurrentModification or ``False``: the outcome is resolved, or `OutcomeUnknown`. The
same through the async API, on both of its PostgreSQL runners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from models import User
from repositories import (
    ConcurrentModification,
    DuplicateRecord,
    OutcomeUnknown,
    TransactionLost,
    connect,
    connect_async,
)
from repositories.sql import SqlDatabase
from tests.contract.asyncfacade import Driver, SyncDatabase

from .pgproxy import CuttingProxy, cutting_proxy


@pytest.fixture
def proxy(pg_url: str) -> Iterator[CuttingProxy]:
    with cutting_proxy(pg_url) as running:
        yield running


@pytest.fixture
def direct(pg_url: str) -> Iterator[SqlDatabase]:
    """The same database without the proxy: what is really stored."""
    db = connect(pg_url)
    assert isinstance(db, SqlDatabase)
    db.ensure_schema(User)
    yield db
    db.close()


@pytest.fixture(params=["sync", "async", "native"])
def via(
    proxy: CuttingProxy, pg_url: str, direct: SqlDatabase, request: pytest.FixtureRequest
) -> Iterator[SqlDatabase]:
    """The database through the proxy: `connect`, or `connect_async` (its thread runner,
    or ``native=True``) driven through the contract suite's synchronous facade."""
    if request.param == "sync":
        db = connect(proxy.url(pg_url))
        assert isinstance(db, SqlDatabase)
        yield db
        db.close()
        return
    driver = Driver()
    opened = connect_async(proxy.url(pg_url), native=request.param == "native")
    facade = SyncDatabase(opened, driver)
    yield facade  # type: ignore[misc]
    facade.close()
    driver.close()


def test_a_create_whose_reply_is_lost_is_its_own_success(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    proxy.arm("INSERT")
    made = via.repository(User).create(User(id="ada", username="ada", mandate_id="m1"))
    assert proxy.cuts == 1  # the INSERT committed and its reply was cut
    assert direct.repository(User).get("ada") == made  # once, as reported
    with pytest.raises(DuplicateRecord):  # a real duplicate is still one
        via.repository(User).create(User(id="ada", username="again", mandate_id="m1"))


def test_updates_whose_reply_is_lost_are_resolved(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    users = via.repository(User)
    user = users.create(User(username="ada", mandate_id="m1", age=1))
    proxy.arm("UPDATE")
    changed = users.update(user.id, {"age": 2})  # plain update
    assert proxy.cuts == 1
    assert direct.repository(User).get(user.id) == changed and changed.age == 2
    proxy.arm("UPDATE")
    cas = users.update(user.id, {"age": 3}, expected_modified_at=changed.modified_at)
    assert proxy.cuts == 2
    assert direct.repository(User).get(user.id) == cas and cas.age == 3


def test_the_compare_and_set_loop_counts_exactly_across_dropped_replies(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    users = via.repository(User)
    counter = users.create(User(username="counter", mandate_id="m1", age=0))
    proxy.arm("UPDATE", times=13, every=3)  # every third increment loses its reply
    done = 0
    while done < 40:
        current = users.get(counter.id)
        assert current is not None and current.age is not None
        try:
            users.update(counter.id, {"age": current.age + 1}, current.modified_at)
        except ConcurrentModification:
            continue
        done += 1
    assert proxy.cuts == 13
    stored = direct.repository(User).get(counter.id)
    assert stored is not None and stored.age == 40


def test_a_delete_whose_reply_is_lost_is_never_false(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    users = via.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    proxy.arm("DELETE")
    with pytest.raises(OutcomeUnknown) as caught:
        users.delete(user.id)  # gone: but whose delete took it cannot be proven
    assert not isinstance(caught.value, ConcurrentModification)
    assert caught.value.record_id == user.id and caught.value.operation == "delete"
    assert direct.repository(User).get(user.id) is None
    assert users.delete(user.id) is False  # a fresh, definite answer
    proxy.arm("DELETE")
    with pytest.raises(OutcomeUnknown):
        users.delete_many({"username": "nobody"})


def test_create_many_survives_a_cut_copy_and_a_cut_commit(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    users = via.repository(User)
    proxy.arm("COPY")  # inside the transaction: lost before commit, nothing applied
    first = users.create_many([User(username=f"a{i}", mandate_id="m1") for i in range(50)])
    proxy.arm("COMMIT")  # the commit ran, its reply was cut: our stamps prove it
    second = users.create_many([User(username=f"b{i}", mandate_id="m1") for i in range(50)])
    assert proxy.cuts == 2
    stored = direct.repository(User).find(order_by="username")
    assert stored == sorted(first + second, key=lambda u: u.username)


def test_import_counts_what_it_wrote_across_a_cut_commit(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    rows = [User(username=f"u{i}", mandate_id="m1", created_at=1.0) for i in range(30)]
    proxy.arm("COMMIT")
    assert via.repository(User).import_rows(rows, batch_size=10) == 30
    assert proxy.cuts == 1
    assert direct.repository(User).count() == 30


def test_a_transaction_cut_inside_is_lost_whole_and_says_so(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    users = via.repository(User)
    user = users.create(User(username="ada", mandate_id="m1", age=1))
    proxy.arm("UPDATE")
    with pytest.raises(TransactionLost), via.transaction():
        users.create(User(id="inside", username="b", mandate_id="m1"))
        users.update(user.id, {"age": 2})
    assert direct.repository(User).get("inside") is None
    assert direct.repository(User).get(user.id).age == 1  # type: ignore[union-attr]
    proxy.arm("COMMIT")
    with pytest.raises(OutcomeUnknown) as caught, via.transaction():
        users.update(user.id, {"age": 3})
    assert caught.value.operation == "commit"
    assert direct.repository(User).get(user.id).age == 3  # type: ignore[union-attr]
    assert users.upsert(User(id="later", username="c", mandate_id="m1")).id == "later"


def test_reads_are_still_retried(
    proxy: CuttingProxy, via: SqlDatabase, direct: SqlDatabase
) -> None:
    users = via.repository(User)
    user = users.create(User(username="ada", mandate_id="m1"))
    proxy.arm("SELECT", times=1)
    assert users.get(user.id) == user
    proxy.arm("SELECT", times=1)
    assert users.find() == [user]
    assert proxy.cuts == 2
