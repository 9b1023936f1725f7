"""`jsonb_contains` (used by the JSON store and SQLite) agrees with PostgreSQL's ``@>``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repositories.lookups import jsonb_contains

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0.0, 1.0, 1.5, -2.0]),
    st.sampled_from(["", "a", "b", "1", "true"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3),
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def pg(pg_database_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(pg_database_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(left=documents, right=documents)
def test_agrees_with_postgresql(pg: sa.Connection, left: Any, right: Any) -> None:
    expected = pg.execute(
        sa.text("SELECT CAST(:l AS jsonb) @> CAST(:r AS jsonb)"),
        {"l": json.dumps(left), "r": json.dumps(right)},
    ).scalar_one()
    assert jsonb_contains(left, right) is expected, (left, right)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=documents, data=st.data())
def test_agrees_on_parts_of_a_document(
    pg: sa.Connection, document: Any, data: st.DataObject
) -> None:
    """Random probes rarely match; probes cut from the document itself mostly do."""
    probe = document
    while isinstance(probe, dict | list) and probe and data.draw(st.booleans()):
        items = list(probe.values()) if isinstance(probe, dict) else probe
        probe = data.draw(st.sampled_from(items))
    candidates = [probe, [probe], {"a": probe}]
    for right in candidates:
        expected = pg.execute(
            sa.text("SELECT CAST(:l AS jsonb) @> CAST(:r AS jsonb)"),
            {"l": json.dumps(document), "r": json.dumps(right)},
        ).scalar_one()
        assert jsonb_contains(document, right) is expected, (document, right)
