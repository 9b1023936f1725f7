"""datetime fields: timestamptz on PostgreSQL, and the same instants and order everywhere."""

from __future__ import annotations

import datetime as dt

import pytest

from models.base import Record
from repositories import Database, InvalidQuery

UTC = dt.UTC
CET = dt.timezone(dt.timedelta(hours=1))


class Meeting(Record):
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None


@pytest.fixture
def meetings(db: Database) -> Database:
    db.ensure_schema(Meeting)
    db.repository(Meeting).create_many(
        [
            Meeting(id="a", title="a", starts_at=dt.datetime(2026, 1, 1, 9, 0, tzinfo=UTC)),
            Meeting(id="b", title="b", starts_at=dt.datetime(2026, 1, 1, 9, 30, tzinfo=CET)),
            Meeting(
                id="c",
                title="c",
                starts_at=dt.datetime(2026, 1, 1, 8, 45, tzinfo=UTC),
                ends_at=dt.datetime(2026, 1, 1, 9, 45, tzinfo=UTC),
            ),
        ]
    )
    return db


def test_instants_round_trip_as_aware_utc(meetings: Database) -> None:
    b = meetings.repository(Meeting).get("b")
    assert b is not None
    assert b.starts_at == dt.datetime(2026, 1, 1, 8, 30, tzinfo=UTC)  # same instant
    assert b.starts_at.utcoffset() == dt.timedelta(0)


def test_order_and_comparisons_by_instant(meetings: Database) -> None:
    repo = meetings.repository(Meeting)
    assert [m.id for m in repo.find(order_by="starts_at")] == ["b", "c", "a"]
    assert [m.id for m in repo.find(order_by="-ends_at")] == ["c", "a", "b"]
    noon_cet = dt.datetime(2026, 1, 1, 9, 40, tzinfo=CET)  # 08:40 UTC
    assert {m.id for m in repo.find({"starts_at__gt": noon_cet})} == {"a", "c"}
    assert {m.id for m in repo.find({"starts_at": "2026-01-01T09:00:00+00:00"})} == {"a"}
    assert {m.id for m in repo.find({"ends_at__isnull": True})} == {"a", "b"}


def test_updates_and_bad_values(meetings: Database) -> None:
    repo = meetings.repository(Meeting)
    moved = repo.update("a", {"starts_at": dt.datetime(2026, 2, 1, 12, 0, tzinfo=CET)})
    assert repo.get("a") == moved
    assert moved.starts_at == dt.datetime(2026, 2, 1, 11, 0, tzinfo=UTC)
    with pytest.raises(InvalidQuery):
        repo.find({"starts_at__lt": "not a date"})
