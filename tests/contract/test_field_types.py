"""Enum, Literal and nested-model fields: stored and queried alike on every backend."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from models.base import Record
from repositories import Database, InvalidQuery


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: str | None = None
    lines: list[str] = Field(default_factory=list)


class Parcel(Record):
    colour: Colour
    size: Literal["S", "M", "L"] = "M"
    address: Address
    history: list[Address] = Field(default_factory=list)
    weight: int | None = None


@pytest.fixture
def parcels(db: Database) -> Database:
    db.ensure_schema(Parcel)
    db.repository(Parcel).create_many(
        [
            Parcel(id="p1", colour=Colour.RED, address=Address(street="Main", lines=["a"])),
            Parcel(
                id="p2",
                colour=Colour.BLUE,
                size="L",
                address=Address(street="Side", zip_code="8000"),
                history=[Address(street="Main")],
            ),
        ]
    )
    return db


def test_round_trip(parcels: Database) -> None:
    p2 = parcels.repository(Parcel).get("p2")
    assert p2 is not None
    assert p2.colour is Colour.BLUE and p2.size == "L"
    assert p2.address == Address(street="Side", zip_code="8000")
    assert p2.history == [Address(street="Main")]


def test_queries(parcels: Database) -> None:
    repo = parcels.repository(Parcel)
    assert [p.id for p in repo.find({"colour": Colour.RED})] == ["p1"]
    assert [p.id for p in repo.find({"colour": "blue"})] == ["p2"]
    assert [p.id for p in repo.find({"size__in": ["S", "L"]})] == ["p2"]
    assert [p.id for p in repo.find({"address__contains": {"street": "Main"}})] == ["p1"]
    assert [p.id for p in repo.find({"history__contains": [{"street": "Main"}]})] == ["p2"]
    assert [p.id for p in repo.find(order_by=["-colour"])] == ["p1", "p2"]
    with pytest.raises(InvalidQuery):
        repo.find({"colour": "green"})
    with pytest.raises(InvalidQuery):
        repo.find({"size": "XL"})


def test_update_nested(parcels: Database) -> None:
    repo = parcels.repository(Parcel)
    moved = repo.update("p1", {"address": {"street": "New", "lines": ["x", "y"]}})
    assert moved.address == Address(street="New", lines=["x", "y"])
    assert repo.get("p1") == moved
    with pytest.raises(InvalidQuery):
        repo.update("p1", {"address": {"zip_code": "1"}})  # street is required
