"""Hostile input: stored verbatim or refused with InvalidQuery, never executed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models import Property, User
from repositories import Database, DuplicateRecord, InvalidQuery

HOSTILE = [
    "O'Reilly",
    'say "hi"',
    '\'; DROP TABLE "User"; --',
    "Robert'); DELETE FROM _system; --",
    "\\x00 not a nul",
    "tab\tnew\nline\rcr \\ backslash",
    "🙂🚀 emoji ✓ 日本",
    "%s %(name)s {0} $1 ?",
    "x" * 1_000_000,
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_stored_verbatim(db: Database, value: str) -> None:
    users, props = db.repository(User), db.repository(Property)
    user = users.create(User(username=value[:500], mandate_id="m1", full_name=value))
    assert users.get(user.id).full_name == value  # type: ignore[union-attr]
    assert [u.id for u in users.find({"username": value[:500]})] == [user.id]
    assert [u.id for u in users.find({"full_name": value})] == [user.id]
    assert users.update(user.id, {"email": value}).email == value
    prop = props.create(Property(title="t", mandate_id="m1", features={value: value}))
    assert props.get(prop.id).features == {value: value}  # type: ignore[union-attr]
    assert [p.id for p in props.find({"features__contains": {value: value}})] == [prop.id]
    assert users.count() == 1 and props.count() == 1


def test_hostile_ids_are_plain_values(db: Database) -> None:
    users = db.repository(User)
    for rid in ["'; DROP TABLE x; --", "a b", "ü", "1 OR 1=1"]:
        users.create(User(id=rid, username="u", mandate_id="m1"))
        assert users.get(rid).id == rid  # type: ignore[union-attr]
    assert users.get("x' OR '1'='1") is None


@pytest.mark.parametrize("where_name", ["username", "fullName"])
def test_nul_is_refused_everywhere(db: Database, where_name: str) -> None:
    users, props = db.repository(User), db.repository(Property)
    existing = users.create(User(username="keep", mandate_id="m1"))
    with pytest.raises(InvalidQuery, match="NUL"):
        users.create(User(username="a\x00b", mandate_id="m1"))
    with pytest.raises(InvalidQuery, match="NUL"):
        users.update(existing.id, {where_name: "a\x00b"})
    with pytest.raises(InvalidQuery, match="NUL"):
        props.create(Property(title="t", mandate_id="m1", features={"k": ["a\x00"]}))
    with pytest.raises(InvalidQuery, match="NUL"):
        props.create(Property(title="t", mandate_id="m1", features={"k\x00": 1}))
    with pytest.raises(InvalidQuery, match="NUL"):
        users.create_many([User(username="ok", mandate_id="m1"), User(username="\x00")])
    assert users.find() == [existing] and props.count() == 0


def test_limits_are_the_same_on_every_backend(db: Database) -> None:
    users = db.repository(User)
    with pytest.raises(InvalidQuery, match="64-bit"):
        users.create(User(username="big", mandate_id="m1", age=2**70))
    with pytest.raises(InvalidQuery, match="64-bit"):
        users.find({"age__gt": -(2**64)})
    with pytest.raises(InvalidQuery, match="indexed text"):
        users.create(User(username="x" * 3000, mandate_id="m1"))
    user = users.create(User(username="x" * 2048, mandate_id="m1", age=2**63 - 1))
    with pytest.raises(InvalidQuery, match="indexed text"):
        users.update(user.id, {"username": "y" * 2049})
    assert users.find() == [user]


@pytest.mark.parametrize(
    "record_id",
    ["a/b", "..", ".hidden", "..\\x", "_metadata", "_SYSTEM", "é" * 101, "a\x00"],
)
def test_unsafe_ids_are_refused_alike_everywhere(db: Database, record_id: str) -> None:
    users = db.repository(User)
    with pytest.raises(InvalidQuery, match="record id"):
        users.create(User(id=record_id, username="u", mandate_id="m1"))
    with pytest.raises(InvalidQuery, match="record id"):
        users.create_many([User(username="ok", mandate_id="m1"), User(id=record_id, username="u")])
    assert users.count() == 0
    if "\x00" in record_id:
        with pytest.raises(InvalidQuery):
            users.get(record_id)
    else:
        assert users.get(record_id) is None


def _nested(depth: int) -> list[Any]:
    doc: list[Any] = []
    for _ in range(depth - 1):
        doc = [doc]
    return doc


def _stored(db: Database) -> tuple[list[User], list[Property]]:
    return db.repository(User).find(), db.repository(Property).find()


@pytest.fixture
def seeded(db: Database) -> tuple[User, Property]:
    user = db.repository(User).create(User(username="keep", mandate_id="m1", age=3))
    prop = db.repository(Property).create(
        Property(title="keep", mandate_id="m1", price=1.5, features={"k": [1, "info"]})
    )
    return user, prop


NON_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("number", [*NON_FINITE, "NaN", "Infinity", "-inf"])
def test_non_finite_numbers_are_refused_everywhere(
    db: Database, seeded: tuple[User, Property], number: Any
) -> None:
    """NaN/±Inf (or strings pydantic would coerce to them) never reach a store."""
    _, prop = seeded
    props = db.repository(Property)
    before = _stored(db)
    with pytest.raises(InvalidQuery, match="price"):
        props.update(prop.id, {"price": number})
    bypassed = Property(title="t", mandate_id="m1")
    bypassed.price = number  # assignment is not validated: the repository must refuse
    for write in (
        lambda: props.create(bypassed),
        lambda: props.create_many([Property(title="ok", mandate_id="m1"), bypassed]),
        lambda: props.upsert(bypassed.model_copy(update={"id": prop.id})),
        lambda: props.upsert(bypassed),
        lambda: props.import_rows(
            [{"id": "imp", "title": "t", "mandateId": "m1", "price": number}]
        ),
    ):
        with pytest.raises(InvalidQuery, match="price"):
            write()
    if isinstance(number, float):  # inside a JSON document (a string there is just text)
        for doc in ({"a": number}, {"a": [1, {"b": number}]}, [number]):
            with pytest.raises(InvalidQuery, match="features"):
                props.update(prop.id, {"features": doc})
            with pytest.raises(InvalidQuery, match="features"):
                props.create(Property(title="t", mandate_id="m1", features={"doc": doc}))
            with pytest.raises(InvalidQuery, match="features"):
                props.import_rows([{"id": "imp", "title": "t", "mandateId": "m1", "features": doc}])
    assert _stored(db) == before


HOSTILE_CALLS: list[tuple[str, Callable[[Database, User, Property], Any], str]] = [
    ("order_by int", lambda db, u, p: db.repository(User).find(order_by=123), "order_by"),
    ("order_by bytes", lambda db, u, p: db.repository(User).find(order_by=b"age"), "order_by"),
    ("order_by [int]", lambda db, u, p: db.repository(User).find(order_by=[1]), "order_by"),
    ("iter order_by", lambda db, u, p: list(db.repository(User).iter(order_by=1.5)), "order_by"),
    ("huge limit", lambda db, u, p: db.repository(User).find(limit=2**63), "limit"),
    ("huge offset", lambda db, u, p: db.repository(User).find(offset=2**70), "offset"),
    ("limit=True", lambda db, u, p: db.repository(User).find(limit=True), "limit"),
    ("offset=True", lambda db, u, p: db.repository(User).find(offset=True), "offset"),
    ("limit str", lambda db, u, p: db.repository(User).find(limit="5"), "limit"),
    ("offset float", lambda db, u, p: db.repository(User).find(offset=1.0), "offset"),
    ("batch_size", lambda db, u, p: list(db.repository(User).iter(batch_size=True)), "batch_size"),
    ("create_many batch", lambda db, u, p: db.repository(User).create_many([], "9"), "batch_size"),
    ("surrogate id", lambda db, u, p: db.repository(User).get("a\ud800"), "record id"),
    (
        "surrogate filter",
        lambda db, u, p: db.repository(User).find({"username": "\udc00"}),
        "username",
    ),
    (
        "surrogate in",
        lambda db, u, p: db.repository(User).count({"email__in": ["\ud800"]}),
        "email",
    ),
    (
        "surrogate create",
        lambda db, u, p: db.repository(User).create(User(username="a\ud800b", mandate_id="m1")),
        "username",
    ),
    (
        "surrogate update",
        lambda db, u, p: db.repository(User).update(u.id, {"full_name": "\udfff"}),
        "full_name",
    ),
    (
        "surrogate JSON value",
        lambda db, u, p: db.repository(Property).update(p.id, {"features": {"k": "\ud800"}}),
        "features",
    ),
    (
        "surrogate JSON key",
        lambda db, u, p: db.repository(Property).create(
            Property(title="t", mandate_id="m1", features={"\ud800": 1})
        ),
        "features",
    ),
    (
        "surrogate JSON key (update)",
        lambda db, u, p: db.repository(Property).update(p.id, {"features": {"\udbff": 1}}),
        "features",
    ),
    (
        "bytes in JSON",
        lambda db, u, p: db.repository(Property).create(
            Property(title="t", mandate_id="m1", features={"k": b"\xff\xfe"})
        ),
        "features",
    ),
    (
        "bytes in JSON (update)",
        lambda db, u, p: db.repository(Property).update(p.id, {"features": {"k": b"\x80"}}),
        "features",
    ),
    (
        "deep JSON",
        lambda db, u, p: db.repository(Property).create(
            Property(title="t", mandate_id="m1", features={"k": _nested(150)})
        ),
        "features",
    ),
    (
        "very deep JSON",
        lambda db, u, p: db.repository(Property).create(
            Property(title="t", mandate_id="m1", features={"k": _nested(100_000)})
        ),
        "features",
    ),
    (
        "very deep JSON (update)",
        lambda db, u, p: db.repository(Property).update(p.id, {"features": {"k": _nested(5000)}}),
        "features",
    ),
    (
        "very deep contains",
        lambda db, u, p: db.repository(Property).find({"features__contains": _nested(5000)}),
        "features",
    ),
    (
        "deep JSON import",
        lambda db, u, p: db.repository(Property).import_rows(
            [{"id": "i", "title": "t", "mandateId": "m1", "features": {"k": _nested(120)}}]
        ),
        "features",
    ),
    (
        "expected_modified_at str",
        lambda db, u, p: db.repository(User).update(u.id, {"age": 4}, expected_modified_at="1"),
        "expected_modified_at",
    ),
    (
        "expected_modified_at nan",
        lambda db, u, p: db.repository(User).delete(u.id, expected_modified_at=float("nan")),
        "expected_modified_at",
    ),
    (
        "wrong type assigned",
        lambda db, u, p: db.repository(User).create(
            User.model_construct(username="x", mandate_id="m1", age="old")
        ),
        "age",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in HOSTILE_CALLS], ids=[c[0] for c in HOSTILE_CALLS]
)
def test_bad_input_gets_a_typed_error_naming_the_field(
    db: Database,
    seeded: tuple[User, Property],
    call: Callable[[Database, User, Property], Any],
    field: str,
) -> None:
    """Never a raw TypeError/OverflowError/UnicodeError/RecursionError; nothing altered."""
    before = _stored(db)
    with pytest.raises(InvalidQuery, match=field):
        call(db, *seeded)
    assert _stored(db) == before


BULK_REFUSED = [
    {"k": "a\x00"},
    {"k\x00": 1},
    {"k": float("nan")},
    {"k": [1, {"x": float("-inf")}]},
    {"k": "\ud800"},
    {"\udc00": 1},
    {"k": b"\xff\xfe"},
    {"k": _nested(150)},
]


@pytest.mark.parametrize("features", BULK_REFUSED, ids=range(len(BULK_REFUSED)))
def test_bulk_create_refuses_a_late_value_whatever_came_before(
    db: Database, seeded: tuple[User, Property], features: dict[str, Any]
) -> None:
    """PostgreSQL streams `create_many` in chunks (`batch_size` rows): a value refused in
    the last chunk is InvalidQuery even after an earlier chunk sent a duplicate id."""
    user, prop = seeded
    props = db.repository(Property)
    before = _stored(db)
    batch = [
        Property(id=prop.id, title="duplicate", mandate_id="m1"),
        *[Property(title=f"ok{i}", mandate_id="m1", features={"i": i}) for i in range(3)],
        Property(title="bad", mandate_id="m1", features=features),
    ]
    with pytest.raises(InvalidQuery, match="features"):
        props.create_many(batch, batch_size=2)
    late = [User(id=user.id, username="duplicate", mandate_id="m1")]
    late += [User(username=f"u{i}", mandate_id="m1") for i in range(3)]
    late += [User(username="a\x00", mandate_id="m1")]
    with pytest.raises(InvalidQuery, match="NUL"):
        db.repository(User).create_many(late, batch_size=2)
    assert _stored(db) == before


def test_bulk_create_stores_text_that_only_looks_suspicious(db: Database) -> None:
    props = db.repository(Property)
    odd = {"s": "BaNaNa NaN Infinity \ufffd \\u0000 [{", "NaN": None, "deep": _nested(60)}
    made = props.create_many(
        [Property(title=f"t{i}", mandate_id="m1", features=odd) for i in range(5)], batch_size=2
    )
    assert [props.get(p.id) for p in made] == made and made[0].features == odd
    with pytest.raises(DuplicateRecord):  # a repeat across chunks, found after the checks
        props.create_many(
            [Property(id="same", title="a", mandate_id="m1")]
            + [Property(title=f"x{i}", mandate_id="m1") for i in range(3)]
            + [Property(id="same", title="b", mandate_id="m1")],
            batch_size=2,
        )
    assert props.count() == 5
