"""Differential test: the JSON store and PostgreSQL, side by side, must agree exactly.

Hypothesis generates sequences of creates, updates, deletes and queries (finds with
filters, ordering and pagination, counts) run as several contexts (sysadmin, an admin
and users of two mandates) against both backends; every call must return the same
records in the same order, or raise the same error type.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Property, User
from models.base import Record
from repositories import Context, Database, RepositoryError, connect

pytestmark = pytest.mark.postgres

CONTEXTS = [
    Context.system(),
    Context("admin1", "m1", "admin"),
    Context("u1", "m1", "user"),
    Context("u2", "m2", "user"),
]
SEEDED = [f"r{i}" for i in range(6)]  # created by the sysadmin first
OWNED = [f"s{i}" for i in range(3)]  # created by the admin and the users first
IDS = SEEDED + OWNED
TEXT = st.sampled_from(["", "a", "A", "b", "ä", "z", "Z", "a b", "10", "9", "é", "ß", "ab"])
INT = st.integers(-3, 4)
FLOAT = st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.5, 10.0])
BOOL = st.booleans()
JSON_SCALAR = st.sampled_from([None, True, False, 0, 1, 1.0, 2, 2.5, "1", "a", "b", ""])
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=6,
)
FEATURES = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), JSON, max_size=3)
TAGS = st.lists(TEXT, max_size=3)

#: model -> field -> (value strategy, nullable)
SCALARS: dict[type[Record], dict[str, tuple[st.SearchStrategy[Any], bool]]] = {
    Property: {
        "title": (TEXT, False),
        "city": (TEXT, True),
        "zip_code": (TEXT, True),
        "price": (FLOAT, True),
        "rooms": (INT, True),
        "available": (BOOL, False),
    },
    User: {
        "username": (TEXT, False),
        "email": (TEXT, True),
        "full_name": (TEXT, True),
        "age": (INT, True),
        "enabled": (BOOL, False),
        "language": (TEXT, False),
    },
}
JSONS: dict[type[Record], dict[str, st.SearchStrategy[Any]]] = {
    Property: {"features": FEATURES, "tags": TAGS},
    User: {},
}
SCALAR_OPS = ["", "ne", "lt", "lte", "gt", "gte", "in", "isnull"]


def value_of(strategy: st.SearchStrategy[Any], nullable: bool) -> st.SearchStrategy[Any]:
    return st.none() | strategy if nullable else strategy


@st.composite
def record_fields(draw: st.DrawFn, model: type[Record]) -> dict[str, Any]:
    fields = {name: draw(value_of(s, n)) for name, (s, n) in SCALARS[model].items()}
    fields.update({name: draw(s) for name, s in JSONS[model].items()})
    fields["mandate_id"] = draw(st.sampled_from(["", "m1", "m2"]))
    return fields


@st.composite
def changes(draw: st.DrawFn, model: type[Record]) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(SCALARS[model])), max_size=3, unique=True))
    out = {name: draw(value_of(*SCALARS[model][name])) for name in names}
    if names and draw(st.integers(0, 9)) == 0:
        out[names[0]] = None  # refused on a field that is not nullable
    for name, strategy in JSONS[model].items():
        if draw(st.booleans()):
            out[name] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        out["mandate_id"] = draw(st.sampled_from(["m1", "m2"]))
    return out


@st.composite
def where(draw: st.DrawFn, model: type[Record]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.integers(0, 9))
        if kind == 0 and JSONS[model]:
            name = draw(st.sampled_from(sorted(JSONS[model])))
            if draw(st.booleans()):
                out[f"{name}__isnull"] = draw(BOOL)
            else:
                probe = JSON if name == "features" else (TEXT | TAGS)
                out[f"{name}__contains"] = draw(probe)
        elif kind == 1:
            out["id__in"] = draw(st.lists(st.sampled_from([*IDS, "nope"]), max_size=3))
        elif kind == 2:
            out["mandate_id"] = draw(st.sampled_from(["m1", "m2", None]))
        else:
            name = draw(st.sampled_from(sorted(SCALARS[model])))
            strategy = SCALARS[model][name][0]
            op = draw(st.sampled_from(SCALAR_OPS))
            key = f"{name}__{op}" if op else name
            if op == "in":
                out[key] = draw(st.lists(value_of(strategy, True), max_size=3))
            elif op == "isnull":
                out[key] = draw(BOOL)
            else:
                out[key] = draw(value_of(strategy, op in ("", "ne")))
    return out


@st.composite
def operations(draw: st.DrawFn, model: type[Record]) -> list[tuple[Any, ...]]:
    orderable = [*sorted(SCALARS[model]), "id"]
    order = st.lists(
        st.sampled_from(orderable).flatmap(lambda f: st.sampled_from([f, f"-{f}"])), max_size=2
    )
    op = st.one_of(
        st.tuples(st.just("create"), st.sampled_from(IDS), record_fields(model)),
        st.tuples(
            st.just("create_many"),
            st.lists(st.tuples(st.sampled_from(IDS), record_fields(model)), max_size=3),
        ),
        st.tuples(st.just("update"), st.sampled_from(IDS), changes(model)),
        st.tuples(st.just("delete"), st.sampled_from(IDS)),
        st.tuples(st.just("delete_many"), where(model)),
        st.tuples(
            st.just("find"),
            where(model),
            order,
            st.none() | st.integers(0, 4),
            st.integers(0, 3),
        ),
        st.tuples(st.just("count"), where(model)),
    )
    # Start from records that exist, so updates, deletes and filters have something to hit.
    seeded = []
    for rid in SEEDED:
        fields = draw(record_fields(model))
        fields["mandate_id"] = draw(st.sampled_from(["m1", "m2"]))
        seeded.append((rid, fields))
    steps: list[tuple[Any, ...]] = [(0, ("create_many", seeded))]
    for rid, who in zip(OWNED, (1, 2, 3), strict=True):
        steps.append((who, ("create", rid, {**draw(record_fields(model)), "mandate_id": ""})))
    steps += draw(st.lists(st.tuples(st.integers(0, len(CONTEXTS) - 1), op), max_size=25))
    return steps


def comparable(value: Any) -> Any:
    """A result with the clock-dependent audit stamps left out."""
    if isinstance(value, Record):
        return value.model_dump(exclude={"created_at", "modified_at"})
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def run(db: Database, model: type[Record], step: tuple[Any, ...]) -> Any:
    kind, *args = step
    repo = db.repository(model)
    try:
        if kind == "create":
            rid, fields = args
            return comparable(repo.create(model(id=rid, **fields)))
        if kind == "create_many":
            (items,) = args
            return comparable(repo.create_many([model(id=rid, **f) for rid, f in items]))
        if kind == "update":
            return comparable(repo.update(*args))
        if kind == "delete":
            return repo.delete(args[0])
        if kind == "delete_many":
            return repo.delete_many(args[0])
        if kind == "find":
            where_, order_by, limit, offset = args
            return comparable(repo.find(where_, order_by=order_by, limit=limit, offset=offset))
        return repo.count(args[0])
    except RepositoryError as exc:
        return ("error", type(exc).__name__)


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    db = connect(pg_url)
    db.ensure_schema(Property, User)
    yield db
    db.close()


def differential(pg: Database, model: type[Record], steps: list[tuple[Any, ...]]) -> None:
    pg.repository(model).delete_many({})
    with tempfile.TemporaryDirectory() as tmp:
        js = connect(f"jsonfile://{Path(tmp) / 'store'}", durability="none")
        try:
            for number, (who, step) in enumerate(steps):
                context = CONTEXTS[who]
                expected = run(pg.with_context(context), model, step)
                actual = run(js.with_context(context), model, step)
                assert actual == expected, f"step {number} {step} as {context}"
            everything = (model, ("find", {}, ["id"], None, 0))
            assert run(js, *everything) == run(pg, *everything)
        finally:
            js.close()


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations(Property))
def test_property_sequences_agree(pg: Database, steps: list[tuple[Any, ...]]) -> None:
    differential(pg, Property, steps)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations(User))
def test_user_sequences_agree(pg: Database, steps: list[tuple[Any, ...]]) -> None:
    differential(pg, User, steps)
