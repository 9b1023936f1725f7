"""The lookup language, ordering and pagination: identical results on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from models import Property, User
from repositories import Database, InvalidQuery

AGES = {"a": 30, "b": None, "c": 18, "d": 45, "e": None, "f": 18}


@pytest.fixture
def people(db: Database) -> Database:
    db.repository(User).create_many(
        [
            User(id=uid, username=f"user-{uid}", mandate_id="m1", age=age, enabled=uid != "d")
            for uid, age in AGES.items()
        ]
    )
    return db


def ids(records: list[Any]) -> list[str]:
    return [r.id for r in records]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"age": 18}, {"c", "f"}),
        ({"age__ne": 18}, {"a", "b", "d", "e"}),  # IS DISTINCT FROM: null matches
        ({"age__lt": 30}, {"c", "f"}),  # null never matches a range
        ({"age__lte": 30}, {"a", "c", "f"}),
        ({"age__gt": 18}, {"a", "d"}),
        ({"age__gte": 18}, {"a", "c", "d", "f"}),
        ({"age__in": [18, 45]}, {"c", "d", "f"}),
        ({"age__in": [18, None]}, {"b", "c", "e", "f"}),
        ({"age": [30, 45]}, {"a", "d"}),  # a list without op means in
        ({"age__in": []}, set()),
        ({"age__isnull": True}, {"b", "e"}),
        ({"age__isnull": False}, {"a", "c", "d", "f"}),
        ({"age": None}, {"b", "e"}),
        ({"age__ne": None}, {"a", "c", "d", "f"}),
        ({"enabled": False}, {"d"}),
        ({"enabled__ne": False, "age__gte": 18}, {"a", "c", "f"}),
        ({"username__gte": "user-d"}, {"d", "e", "f"}),
        ({"id__in": ["a", "zz"]}, {"a"}),
        ({"mandateId": "m1", "age": 30}, {"a"}),  # storage names work too
        ({"mandate_id": "m2"}, set()),
    ],
)
def test_lookups(people: Database, where: dict[str, Any], expected: set[str]) -> None:
    users = people.repository(User)
    assert set(ids(users.find(where=where))) == expected
    assert users.count(where) == len(expected)


def test_order_nulls_last_and_ties_by_id(people: Database) -> None:
    users = people.repository(User)
    assert ids(users.find(order_by=["age"])) == ["c", "f", "a", "d", "b", "e"]
    assert ids(users.find(order_by=["-age"])) == ["d", "a", "c", "f", "b", "e"]
    assert ids(users.find(order_by=["-enabled", "-age"])) == ["a", "c", "f", "b", "e", "d"]
    assert ids(users.find()) == sorted(AGES)
    assert ids(users.find(order_by="-id")) == sorted(AGES, reverse=True)


def test_pagination_visits_every_record_once(people: Database) -> None:
    users = people.repository(User)
    pages = [users.find(order_by=["age"], limit=4, offset=o) for o in range(0, 8, 4)]
    assert [len(p) for p in pages] == [4, 2]
    assert ids(pages[0] + pages[1]) == ids(users.find(order_by=["age"]))
    assert users.find(limit=0) == []
    assert ids(users.find(order_by="id", offset=5)) == ["f"]


def test_iter_streams_in_batches(people: Database) -> None:
    users = people.repository(User)
    assert ids(list(users.iter(batch_size=4))) == ids(users.find())
    assert ids(list(users.iter(where={"age__isnull": False}, batch_size=1))) == ["a", "c", "d", "f"]


def test_text_compares_by_code_point(db: Database) -> None:
    names = ["b", "a", "Z", "ä", "日本", "🙂", "a\u0301", "A", "éclair", "eclair", " "]
    users = db.repository(User)
    users.create_many([User(username=n, mandate_id="m1") for n in names])
    assert [u.username for u in users.find(order_by="username")] == sorted(names)
    assert {u.username for u in users.find({"username__gt": "z"})} == {n for n in names if n > "z"}


PROPERTY_FEATURES: dict[str, Any] = {
    "p1": {"a": 1, "tags": ["x", "y"], "nested": {"k": [1, 2, {"z": True}]}},
    "p2": {"a": 1.5, "tags": ["y", "y"], "flag": False},
    "p3": {"a": True, "tags": [], "nested": {"k": []}},
    "p4": {},
    "p5": {"a": "1", "tags": [["x"]], "list": [{"b": 1, "c": 2}]},
}


@pytest.fixture
def estates(db: Database) -> Database:
    db.repository(Property).create_many(
        [
            Property(
                id=pid,
                title=pid,
                mandate_id="m1",
                features=f,
                tags=[t for t in f.get("tags", []) if isinstance(t, str)],
            )
            for pid, f in PROPERTY_FEATURES.items()
        ]
    )
    return db


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"features__contains": {"a": 1}}, {"p1"}),
        ({"features__contains": {"a": 1.0}}, {"p1"}),  # numbers compare numerically
        ({"features__contains": {"a": True}}, {"p3"}),  # bools are not numbers
        ({"features__contains": {"a": "1"}}, {"p5"}),
        ({"features__contains": {}}, {"p1", "p2", "p3", "p4", "p5"}),
        ({"features__contains": {"tags": ["y"]}}, {"p1", "p2"}),
        ({"features__contains": {"tags": ["y", "y", "x"]}}, {"p1"}),  # duplicates count once
        ({"features__contains": {"tags": []}}, {"p1", "p2", "p3", "p5"}),
        ({"features__contains": {"tags": "y"}}, set()),  # nested scalar never matches array
        ({"features__contains": {"tags": [["x"]]}}, {"p5"}),
        ({"features__contains": {"tags": ["x"]}}, {"p1"}),
        ({"features__contains": {"nested": {"k": [{"z": True}]}}}, {"p1"}),
        ({"features__contains": {"nested": {"k": [2, 1, 1]}}}, {"p1"}),
        ({"features__contains": {"nested": {}}}, {"p1", "p3"}),
        ({"features__contains": {"list": [{"c": 2}]}}, {"p5"}),
        ({"features__contains": {"flag": False}}, {"p2"}),
        ({"features__contains": {"flag": None}}, set()),
        ({"features__contains": ["x"]}, set()),  # array never contained by an object
        ({"tags__contains": ["x"]}, {"p1"}),
        ({"tags__contains": "y"}, {"p1", "p2"}),  # top level: array contains a scalar
        ({"tags__contains": []}, {"p1", "p2", "p3", "p4", "p5"}),
        ({"tags__contains": {"x": 1}}, set()),
        ({"features__isnull": False}, {"p1", "p2", "p3", "p4", "p5"}),
    ],
)
def test_contains_follows_postgresql(
    estates: Database, where: dict[str, Any], expected: set[str]
) -> None:
    props = estates.repository(Property)
    assert set(ids(props.find(where=where))) == expected
    assert props.count(where) == len(expected)


def test_float_and_null_fields(db: Database) -> None:
    props = db.repository(Property)
    props.create_many(
        [
            Property(id="x1", title="a", mandate_id="m1", price=0.1 + 0.2, rooms=3),
            Property(id="x2", title="b", mandate_id="m1", price=None, rooms=None),
            Property(id="x3", title="c", mandate_id="m1", price=-5.5, rooms=2),
        ]
    )
    assert ids(props.find({"price__gt": 0.3})) == ["x1"]
    assert ids(props.find({"price": 0.1 + 0.2})) == ["x1"]
    assert ids(props.find(order_by=["-price"])) == ["x1", "x3", "x2"]
    assert ids(props.find({"rooms__lte": 2.0})) == ["x3"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"shoe_size": 3}, "unknown field"),
        ({"age__between": [1, 2]}, "unknown lookup op"),
        ({"age__gte": "old"}, "bad value"),
        ({"age__gte": None}, "cannot compare with None"),
        ({"age__isnull": "yes"}, "isnull"),
        ({"age__in": 5}, "list"),
        ({"username__contains": "a"}, "JSON fields only"),
        ({"enabled__lt": True}, "boolean"),
        ({"username": "a\x00b"}, "NUL"),
        ({'\'; DROP TABLE "User"; --': 1}, "unknown field"),
        ({'age__gte"': 1}, "unknown"),
    ],
)
def test_invalid_filters(db: Database, where: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        db.repository(User).find(where=where)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"features__gt": 1}, "JSON field"),
        ({"features": {"a": 1}}, "JSON field"),
        ({"features__contains": None}, "JSON value"),
        ({"features__contains": {"a": float("nan")}}, "not a finite number"),
    ],
)
def test_invalid_json_filters(db: Database, where: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        db.repository(Property).find(where=where)


@pytest.mark.parametrize(
    "order_by", [["shoe_size"], ["-"], ["features"], ["username; DROP TABLE x"], [3]]
)
def test_invalid_order_by(db: Database, order_by: list[Any]) -> None:
    with pytest.raises(InvalidQuery):
        db.repository(User).find(order_by=order_by)


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (None, -1), ("5", 0), (1.5, 0)])
def test_invalid_pages(db: Database, limit: Any, offset: Any) -> None:
    with pytest.raises(InvalidQuery):
        db.repository(User).find(limit=limit, offset=offset)
