"""Keyset pages: the same rows as ``find`` in the same order, stable under inserts, and
tokens that only ever open a page of the query that made them."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Property, User
from models.base import Record
from models.schema import model_info
from repositories import Context, Database, InvalidQuery, Page
from repositories.keyset import MAX_PAGE, encode_token, fingerprint
from repositories.lookups import parse_order, parse_where

UTC = dt.UTC


class Sample(Record):
    """Every sortable kind, each nullable: nulls sort last either way."""

    name: str | None = None
    score: float | None = None
    rank: int | None = None
    flag: bool | None = None
    at: dt.datetime | None = None


NAMES = [None, "", "a", "A", "b", "ä", "z", "é", "ß", "ab", "10", "9", "😀"]
ORDERS: list[Any] = [
    None,
    "name",
    "-name",
    ["score"],
    ["-score"],
    ["-rank", "name"],
    ["flag", "-at"],
    ["at", "-score", "rank"],
    ["-flag", "-rank", "-name", "score"],
    "-id",
]


def _samples(count: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Sample(
            id=f"s{i:03d}",
            name=rng.choice(NAMES),
            score=rng.choice([None, -1.5, 0.0, 0.5, 2.5]),
            rank=rng.choice([None, -3, 0, 1, 7]),
            flag=rng.choice([None, True, False]),
            at=rng.choice([None, base, base + dt.timedelta(hours=rng.randint(1, 3))]),
        )
        for i in range(count)
    ]


@pytest.fixture
def samples(db: Database) -> Database:
    db.ensure_schema(Sample)
    db.repository(Sample).create_many(_samples(97, 3))
    return db


def pages(repo: Any, limit: int, **query: Any) -> list[Page[Any]]:
    out, token = [], None
    while True:
        page = repo.page(limit=limit, after=token, **query)
        out.append(page)
        token = page.next
        if token is None:
            return out
        assert len(out) < 1000, "paging does not end"


def ids(records: list[Any]) -> list[str]:
    return [r.id for r in records]


@pytest.mark.parametrize("order_by", ORDERS)
def test_pages_are_find_in_slices(samples: Database, order_by: Any) -> None:
    repo = samples.repository(Sample)
    expected = ids(repo.find(order_by=order_by))
    got = pages(repo, 10, order_by=order_by)
    assert [len(p.items) for p in got] == [10] * 9 + [7]
    assert [r.id for p in got for r in p.items] == expected


def test_a_full_last_page_says_it_is_the_last(samples: Database) -> None:
    repo = samples.repository(Sample)
    repo.delete_many({"id__in": [f"s{i:03d}" for i in range(90, 97)]})
    got = pages(repo, 10, order_by="-score")
    assert [len(p.items) for p in got] == [10] * 9  # no empty page after a full one
    assert got[-1].next is None


def test_filters_apply_to_every_page(samples: Database) -> None:
    repo = samples.repository(Sample)
    where = {"rank__gte": 0, "name__ne": "a"}
    expected = ids(repo.find(where=where, order_by=["-at", "name"]))
    got = pages(repo, 4, where=where, order_by=["-at", "name"])
    assert [r.id for p in got for r in p.items] == expected
    assert expected


def test_empty_table(db: Database) -> None:
    page = db.repository(User).page()
    assert page == Page([], None)


def test_stable_under_concurrent_inserts_and_deletes(samples: Database) -> None:
    """Rows that existed when paging began are each seen once, whatever is inserted (before
    or after the position) or deleted (only the deleted ones may go missing)."""
    repo = samples.repository(Sample)
    rng = random.Random(11)
    before = set(ids(repo.find()))
    deleted: set[str] = set()
    seen: list[str] = []
    token = None
    for step in range(1000):
        page = repo.page(order_by=["-score", "name"], limit=6, after=token)
        seen += ids(page.items)
        token = page.next
        if token is None:
            break
        _create_fresh(repo, 4, step)
        victim = rng.choice(sorted(before - deleted - set(seen)) or [None])
        if victim is not None and step % 3 == 0:
            repo.delete(victim)
            deleted.add(victim)
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert before - deleted <= set(seen), "a row that existed was skipped"


def _create_fresh(repo: Any, count: int, seed: int) -> None:
    rows = _samples(count, seed)
    repo.create_many([r.model_copy(update={"id": f"n{seed}-{i}"}) for i, r in enumerate(rows)])


def test_inserts_while_paging_never_repeat_or_skip(samples: Database) -> None:
    repo = samples.repository(Sample)
    before = set(ids(repo.find()))
    seen: list[str] = []
    token = None
    for step in range(1000):
        page = repo.page(order_by=["-rank", "at"], limit=7, after=token)
        seen += ids(page.items)
        token = page.next
        if token is None:
            break
        _create_fresh(repo, 5, step)
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def test_pages_respect_the_mandate(open_db: Any) -> None:
    system = open_db()
    users = system.repository(User)
    users.create_many(
        [User(username=f"u{i}", mandate_id="m1" if i % 3 else "m2", age=i % 5) for i in range(40)]
    )
    m1 = open_db(Context("admin1", "m1", "admin")).repository(User)
    got = pages(m1, 5, order_by="-age")
    assert {u.mandate_id for p in got for u in p.items} == {"m1"}
    assert [u.id for p in got for u in p.items] == ids(m1.find(order_by="-age"))
    # the token of one mandate's query opens nothing for another mandate
    m2 = open_db(Context("admin2", "m2", "admin")).repository(User)
    with pytest.raises(InvalidQuery, match="another query"):
        m2.page(order_by="-age", limit=5, after=got[0].next)


@pytest.mark.parametrize(
    ("other", "what"),
    [
        ({"order_by": "age"}, "order"),
        ({"order_by": "-age", "where": {"age__gte": 1}}, "filter"),
        ({"order_by": ["-age", "username"]}, "order"),
    ],
)
def test_a_token_of_another_query_is_refused(
    samples: Database, other: dict[str, Any], what: str
) -> None:
    users = samples.repository(User)
    users.create_many([User(username=f"u{i}", mandate_id="m1", age=i) for i in range(5)])
    token = users.page(order_by="-age", limit=2).next
    assert token is not None
    with pytest.raises(InvalidQuery, match="another query"):
        users.page(limit=2, after=token, **other)
    with pytest.raises(InvalidQuery, match="another query"):  # another table
        samples.repository(Sample).page(after=token)


MALFORMED: list[Any] = [
    "",
    "garbage",
    "a.b.c",
    "%%%.%%%",
    "é.é",
    "x" * 20_000 + ".y",
    123,
    b"bytes",
    ["list"],
    '\'; DROP TABLE "Sample"; --.AAAA',
]


def test_malformed_tokens_are_invalid_query(samples: Database) -> None:
    repo = samples.repository(Sample)
    for token in MALFORMED:
        with pytest.raises(InvalidQuery, match="bad page token"):
            repo.page(after=token)
    assert repo.count() == 97  # nothing reached the database as text


def test_an_altered_token_is_refused(samples: Database) -> None:
    repo = samples.repository(Sample)
    token = repo.page(order_by="name", limit=3).next
    assert token is not None
    body, check = token.split(".")
    values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    values[1][0] = "zzz"  # move the position by hand
    forged = base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidQuery, match="altered"):
        repo.page(order_by="name", limit=3, after=f"{forged}.{check}")


def _forge(order_by: Any, values: list[Any], where: Any = None) -> str:
    """A token made with full knowledge of the scheme (its check recomputed)."""
    info = model_info(Sample)
    orders = parse_order(info, order_by)
    bound = fingerprint(info.table, parse_where(info, where), orders)
    return encode_token(bound, values)


FORGED: list[tuple[Any, list[Any]]] = [
    ("name", ["a"]),  # one value too few
    ("name", ["a", "s001", "extra"]),
    ("name", [1, "s001"]),  # a number for a text key
    ("name", ["a\x00b", "s001"]),  # NUL: never storable, never compared
    ("name", ["\ud800", "s001"]),  # a lone surrogate
    ("score", [float("nan"), "s001"]),
    ("score", [True, "s001"]),
    ("rank", [2**70, "s001"]),
    ("rank", [1.5, "s001"]),
    ("flag", ["yes", "s001"]),
    ("at", ["not a time", "s001"]),
    ("at", [5, "s001"]),
    ("name", ["a", None]),  # ids are never null
    ("name", ["a", {"$ne": 1}]),
]


def test_forged_values_are_invalid_query(samples: Database) -> None:
    repo = samples.repository(Sample)
    for order_by, values in FORGED:
        with pytest.raises(InvalidQuery, match=r"bad page token|page token value"):
            repo.page(order_by=order_by, after=_forge(order_by, values))


def test_forged_but_valid_values_are_only_a_position(samples: Database) -> None:
    """Values a token may hold are sort values: they move the start, nothing else."""
    repo = samples.repository(Sample)
    hostile = '\'; DELETE FROM "Sample"; --'
    page = repo.page(order_by="name", limit=100, after=_forge("name", [hostile, "s050"]))
    assert ids(page.items) == [
        s.id for s in repo.find(order_by="name") if s.name is None or s.name > hostile
    ]
    assert repo.count() == 97
    midnight = dt.datetime(2026, 1, 1, tzinfo=UTC)  # written in another zone, same instant
    token = _forge("at", ["2026-01-01T01:00:00+01:00", "s050"])
    expected = [
        s.id
        for s in repo.find(order_by="at")
        if s.at is None or s.at > midnight or (s.at == midnight and s.id > "s050")
    ]
    assert ids(repo.page(order_by="at", limit=100, after=token).items) == expected


def test_bad_limits_and_orders(samples: Database) -> None:
    for limit in [0, -1, True, 1.5, "10", MAX_PAGE + 1, 2**63]:
        with pytest.raises(InvalidQuery, match="limit"):
            samples.repository(Sample).page(limit=limit)
    for order_by in ["nope", ["features"], 3]:
        with pytest.raises(InvalidQuery, match="order"):
            samples.repository(Property).page(order_by=order_by)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(0, 40),
    limit=st.integers(1, 9),
    order_by=st.lists(
        st.sampled_from(["name", "-name", "score", "-score", "rank", "-rank", "flag", "-at"]),
        max_size=3,
        unique_by=lambda o: o.lstrip("-"),
    ),
)
def test_any_order_any_size(
    db: Database, seed: int, count: int, limit: int, order_by: list[str]
) -> None:
    db.ensure_schema(Sample)
    repo = db.repository(Sample)
    repo.delete_many({})
    repo.create_many(_samples(count, seed))
    got = pages(repo, limit, order_by=order_by)
    assert [r.id for p in got for r in p.items] == ids(repo.find(order_by=order_by))
    assert all(len(p.items) == limit for p in got[:-1])
