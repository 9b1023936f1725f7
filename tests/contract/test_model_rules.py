"""A model's own rules hold for an update as for a new record, on every backend.

A change is validated field by field; the rules pydantic keeps beside a field's type
(``Field(ge=0)``, ``Annotated[..., AfterValidator(f)]``) and the model config's value
rules (``str_max_length``) apply to it. Validators that see the whole record
(``field_validator``, ``model_validator``) are checked on the changed record before it is
kept. A change they refuse is `InvalidQuery` and leaves the stored record as it was:
before this, it was stored and every later read of the record failed.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from models.base import Record
from repositories import Database, InvalidQuery


def _even(value: int) -> int:
    if value % 2:
        raise ValueError("must be even")
    return value


class Constrained(Record):
    model_config = ConfigDict(str_max_length=40)

    quantity: int = Field(default=0, ge=0)
    pairs: Annotated[int, AfterValidator(_even)] = 0
    label: str | None = Field(default=None, max_length=5)
    note: str = ""


class Ranged(Record):
    low: int = 0
    high: int = 10
    code: str = "AB"

    @field_validator("code")
    @classmethod
    def _upper(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("code must be upper case")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Ranged:
        if self.low > self.high:
            raise ValueError("low above high")
        return self


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"quantity": -1}, r"Constrained\.quantity: bad value -1: .*greater than or equal to 0"),
        ({"pairs": 3}, r"Constrained\.pairs: bad value 3: .*must be even"),
        ({"label": "toolong"}, r"Constrained\.label: bad value 'toolong': .*at most 5"),
        ({"note": "x" * 41}, r"Constrained\.note: bad value .*at most 40"),
    ],
)
def test_a_change_meets_the_fields_own_rules(
    db: Database, changes: dict[str, object], problem: str
) -> None:
    db.ensure_schema(Constrained)
    repo = db.repository(Constrained)
    record = repo.create(Constrained(quantity=1, pairs=2, label="ok"))
    with pytest.raises(InvalidQuery, match=problem):
        repo.update(record.id, changes)
    assert repo.get(record.id) == record
    changed = repo.update(record.id, {"quantity": 7, "pairs": 4, "label": None, "note": "n"})
    assert (changed.quantity, changed.pairs, changed.label, changed.note) == (7, 4, None, "n")
    assert repo.get(record.id) == changed


@pytest.mark.parametrize(
    ("changes", "problem"),
    [({"low": 50}, "low above high"), ({"code": "ab"}, "code must be upper case")],
)
def test_a_change_meets_the_models_validators(
    db: Database, changes: dict[str, object], problem: str
) -> None:
    db.ensure_schema(Ranged)
    repo = db.repository(Ranged)
    record = repo.create(Ranged())
    with pytest.raises(
        InvalidQuery, match=f"Ranged: record '{record.id}' with these changes.*{problem}"
    ):
        repo.update(record.id, changes)
    assert repo.get(record.id) == record
    changed = repo.update(record.id, {"low": 5, "code": "XY"}, record.modified_at)
    assert (changed.low, changed.code) == (5, "XY")
    assert repo.get(record.id) == changed


def test_a_refused_change_inside_a_transaction_leaves_the_block_going(db: Database) -> None:
    db.ensure_schema(Ranged)
    repo = db.repository(Ranged)
    with db.transaction():
        record = repo.create(Ranged())
        with pytest.raises(InvalidQuery, match="low above high"):
            repo.update(record.id, {"low": 50})
        repo.update(record.id, {"high": 20})
    stored = repo.get(record.id)
    assert stored is not None and (stored.low, stored.high) == (0, 20)
