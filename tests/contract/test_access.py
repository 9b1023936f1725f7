"""Access scoping on every backend: mandate isolation, privileges, audit fields.

A context of mandate A must never read, count, find, update, upsert, delete or move a
record of mandate B, whatever the filter; a `user` changes only records it created; the
audit fields are the repository's, never the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models import Mandate, Property
from repositories import AccessDenied, Context, Database, DuplicateRecord, RecordNotFound

from .conftest import OpenDb

ALICE = Context("alice", "A", "admin")
BOB = Context("bob", "A", "user")
BEA = Context("bea", "A", "user")
CAROL = Context("carol", "B", "admin")
DAVE = Context("dave", "B", "user")

HOSTILE_FILTERS: list[dict[str, Any]] = [
    {},
    {"mandate_id": "B"},
    {"mandateId": "B"},
    {"mandate_id__in": ["A", "B"]},
    {"mandate_id__in": ["B"]},
    {"mandate_id__ne": "A"},
    {"mandate_id__ne": "Z"},
    {"mandate_id__isnull": True},
    {"mandate_id__isnull": False},
    {"mandate_id__gte": ""},
    {"mandate_id__lt": "ZZZ"},
    {"title__ne": None},
    {"created_by": "dave"},
    {"created_by__in": ["carol", "dave", "bob"]},
    {"features__contains": {}},
    {"tags__contains": []},
    {"id__in": ["nope"]},
]


@pytest.fixture
def world(open_db: OpenDb) -> dict[str, Any]:
    """Records of mandates A and B, written by their own users."""
    system = open_db()
    made: dict[str, Property] = {}
    for ctx in (ALICE, BOB, BEA, CAROL, DAVE):
        repo = system.with_context(ctx).repository(Property)
        made[ctx.user_id] = repo.create(Property(title=f"{ctx.user_id}'s", city="X"))
    return {"system": system, "made": made}


def props(world: dict[str, Any], ctx: Context) -> Any:
    return world["system"].with_context(ctx).repository(Property)


def snapshot(world: dict[str, Any]) -> dict[str, Property]:
    return {p.id: p for p in world["system"].repository(Property).find()}


def test_create_stamps_the_context_mandate_and_user(world: dict[str, Any]) -> None:
    made = world["made"]
    assert made["bob"].mandate_id == "A" and made["bob"].created_by == "bob"
    assert made["dave"].mandate_id == "B" and made["dave"].modified_by == "dave"


@pytest.mark.parametrize("where", HOSTILE_FILTERS, ids=repr)
def test_no_filter_reaches_another_mandate(world: dict[str, Any], where: dict[str, Any]) -> None:
    for ctx, other in ((BOB, "B"), (ALICE, "B"), (CAROL, "A"), (DAVE, "A")):
        repo = props(world, ctx)
        found = repo.find(where)
        assert all(p.mandate_id == ctx.mandate_id for p in found), (ctx, where)
        assert repo.count(where) == len(found)
        assert all(p.mandate_id != other for p in repo.iter(where, batch_size=1))


def test_paging_and_ordering_never_reach_another_mandate(world: dict[str, Any]) -> None:
    repo = props(world, DAVE)
    for order in (["mandate_id"], ["-mandate_id"], ["created_by", "-id"]):
        for offset in range(6):
            page = repo.find(order_by=order, limit=1, offset=offset)
            assert all(p.mandate_id == "B" for p in page)
        assert [p.created_by for p in repo.iter(batch_size=1)] != [] and all(
            p.mandate_id == "B" for p in repo.iter(order_by=order)
        )


def test_get_of_another_mandate_is_none(world: dict[str, Any]) -> None:
    made = world["made"]
    assert props(world, BOB).get(made["dave"].id) is None
    assert props(world, CAROL).get(made["alice"].id) is None
    assert props(world, BOB).get(made["bea"].id) == made["bea"]  # same mandate: visible


def test_sysadmin_sees_every_mandate(world: dict[str, Any]) -> None:
    root = Context("root", None, "sysadmin")
    assert props(world, root).count() == 5
    assert {p.mandate_id for p in props(world, root).find()} == {"A", "B"}


@pytest.mark.parametrize("ctx", [ALICE, BOB], ids=["admin", "user"])
def test_update_or_delete_of_another_mandate_acts_as_absent(
    world: dict[str, Any], ctx: Context
) -> None:
    before = snapshot(world)
    target = world["made"]["dave"]
    repo = props(world, ctx)
    with pytest.raises(RecordNotFound):
        repo.update(target.id, {"title": "pwned"})
    with pytest.raises(RecordNotFound):
        repo.update(target.id, {"title": "pwned"}, expected_modified_at=target.modified_at)
    assert repo.delete(target.id) is False
    assert repo.delete(target.id, expected_modified_at=target.modified_at) is False
    for where in HOSTILE_FILTERS:
        repo.delete_many({**where, "title": "nothing-matches-this"})
    assert snapshot(world) == before


@pytest.mark.parametrize("where", HOSTILE_FILTERS, ids=repr)
def test_admin_delete_many_stays_in_its_mandate(
    world: dict[str, Any], where: dict[str, Any]
) -> None:
    before = snapshot(world)
    deleted = props(world, ALICE).delete_many(where)
    after = snapshot(world)
    gone = [before[i] for i in before if i not in after]
    assert len(gone) == deleted
    assert all(p.mandate_id == "A" for p in gone)
    assert all(
        p.mandate_id == "B"
        for p in after.values()
        if p.id in {world["made"]["carol"].id, world["made"]["dave"].id}
    )


@pytest.mark.parametrize("mandate", ["A", "B"])
def test_upsert_cannot_touch_another_mandate(world: dict[str, Any], mandate: str) -> None:
    before = snapshot(world)
    target = world["made"]["dave"]
    forged = target.model_copy(update={"title": "pwned", "mandate_id": mandate})
    with pytest.raises((AccessDenied, DuplicateRecord)):
        props(world, ALICE).upsert(forged)
    assert snapshot(world) == before


def test_create_in_another_mandate_is_denied(world: dict[str, Any]) -> None:
    before = snapshot(world)
    for ctx in (ALICE, BOB):
        with pytest.raises(AccessDenied):
            props(world, ctx).create(Property(title="x", mandate_id="B"))
        with pytest.raises(AccessDenied):
            props(world, ctx).create_many(
                [Property(title="ok"), Property(title="x", mandate_id="B")]
            )
    assert snapshot(world) == before


@pytest.mark.parametrize("key", ["mandate_id", "mandateId"])
def test_a_record_cannot_be_moved_to_another_mandate(world: dict[str, Any], key: str) -> None:
    before = snapshot(world)
    own = world["made"]["alice"]
    with pytest.raises(AccessDenied):
        props(world, ALICE).update(own.id, {key: "B"})
    with pytest.raises(AccessDenied):
        props(world, ALICE).upsert(own.model_copy(update={"mandate_id": "B"}))
    assert snapshot(world) == before
    assert props(world, CAROL).get(own.id) is None


def test_a_user_changes_only_its_own_records(world: dict[str, Any]) -> None:
    made = world["made"]
    before = snapshot(world)
    bob = props(world, BOB)
    with pytest.raises(AccessDenied):
        bob.update(made["bea"].id, {"title": "mine now"})
    with pytest.raises(AccessDenied):
        bob.update(made["alice"].id, {"title": "mine now"})
    with pytest.raises(AccessDenied):
        bob.delete(made["bea"].id)
    with pytest.raises(AccessDenied):
        bob.upsert(made["bea"].model_copy(update={"title": "mine now"}))
    assert bob.delete_many({}) == 1  # only his own
    after = snapshot(world)
    assert set(before) - set(after) == {made["bob"].id}
    assert after[made["bea"].id] == before[made["bea"].id]


def test_an_admin_changes_any_record_of_its_mandate(world: dict[str, Any]) -> None:
    made = world["made"]
    changed = props(world, ALICE).update(made["bob"].id, {"title": "reviewed"})
    assert changed.title == "reviewed"
    assert changed.created_by == "bob" and changed.modified_by == "alice"
    assert props(world, ALICE).delete(made["bea"].id) is True


FORGED: dict[str, Any] = {
    "created_by": "root",
    "_createdBy": "root",
    "created_at": 1.0,
    "_createdAt": 1.0,
    "modified_by": "root",
    "_modifiedBy": "root",
    "modified_at": 2.0,
    "_modifiedAt": 2.0,
}


def test_audit_fields_cannot_be_forged(world: dict[str, Any]) -> None:
    bob = props(world, BOB)
    created = bob.create(
        Property(title="t", created_by="root", created_at=1.0, modified_by="root", modified_at=2.0)
    )
    assert (created.created_by, created.modified_by) == ("bob", "bob")
    assert created.created_at not in (1.0, None) and created.modified_at != 2.0
    for key, value in FORGED.items():
        updated = bob.update(created.id, {key: value, "title": f"t-{key}"})
        assert updated.created_by == "bob" and updated.modified_by == "bob"
        assert updated.created_at == created.created_at
        assert updated.modified_at not in (1.0, 2.0)
    stored = world["system"].repository(Property).get(created.id)
    assert stored.created_by == "bob" and stored.created_at == created.created_at
    upserted = bob.upsert(stored.model_copy(update={"created_by": "root", "modified_by": "root"}))
    assert upserted.created_by == "bob" and upserted.modified_by == "bob"
    many = bob.create_many([Property(title="m", created_by="root", created_at=5.0)])
    assert many[0].created_by == "bob" and many[0].created_at != 5.0


def test_import_rows_is_for_the_system_context_only(world: dict[str, Any]) -> None:
    row = Property(id="imported", title="t", mandate_id="B", created_by="carol").model_dump()
    for ctx in (ALICE, BOB, Context("root", None, "sysadmin")):
        with pytest.raises(AccessDenied):
            props(world, ctx).import_rows([row])
    assert world["system"].repository(Property).import_rows([row]) == 1
    assert world["system"].repository(Property).import_rows([row]) == 0  # skipped
    kept = world["system"].repository(Property).get("imported")
    assert kept is not None and kept.created_by == "carol"


def test_a_mandate_record_belongs_to_its_own_mandate(open_db: OpenDb) -> None:
    system = open_db()
    mandates = system.repository(Mandate)
    mandates.create_many([Mandate(id="A", name="Acme"), Mandate(id="B", name="Birch")])
    alice, bob = (system.with_context(c).repository(Mandate) for c in (ALICE, BOB))
    assert [m.id for m in bob.find()] == ["A"] and bob.count({"id__ne": "A"}) == 0
    assert bob.get("B") is None
    with pytest.raises(RecordNotFound):
        alice.update("B", {"name": "pwned"})
    for ctx_repo in (alice, bob):
        with pytest.raises(AccessDenied):
            ctx_repo.create(Mandate(id="C", name="new tenant"))
        # deleting follows creating: not even its own mandate's record
        for record_id in ("A", "B", "nonexistent"):
            with pytest.raises(AccessDenied, match="deletes mandates"):
                ctx_repo.delete(record_id)
        for where in ({"id": "A"}, {"id": "B"}, {"id__ne": "A"}, {}):
            with pytest.raises(AccessDenied, match="deletes mandates"):
                ctx_repo.delete_many(where)
        with pytest.raises(AccessDenied):
            ctx_repo.upsert(Mandate(id="B", name="pwned"))
    with pytest.raises(AccessDenied):
        bob.update("A", {"name": "a user may not rename it"})
    assert alice.update("A", {"name": "Acme AG"}).modified_by == "alice"  # its admin may
    assert mandates.get("B") is not None and mandates.get("B").name == "Birch"  # type: ignore[union-attr]
    assert mandates.count() == 2
    assert mandates.delete("B") is True and mandates.count() == 1  # a sysadmin may


def test_with_context_is_cached_per_context(db: Database) -> None:
    same: Callable[[Context], Database] = db.with_context
    assert same(BOB) is same(Context("bob", "A", "user"))
    assert same(BOB) is not same(BEA)
    assert same(BOB).context == BOB
