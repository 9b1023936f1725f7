"""Hostile input: stored verbatim or refused with InvalidQuery, never executed."""

from __future__ import annotations

import pytest

from models import Property, User
from repositories import Database, InvalidQuery

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
