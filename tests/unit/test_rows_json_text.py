"""`RowRules.dump_many_json_text` (the COPY path's dump) agrees with `dump_many`.

The JSON text it takes from the model's serializer must refuse exactly what the exact
dump refuses, with the same message, and store the same documents otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, field_serializer

from models.base import Record
from models.schema import model_info
from repositories.errors import InvalidQuery
from repositories.rows import RowRules


class Inner(BaseModel):  # pydantic's default config: NaN written as null in JSON
    x: float = 0.0


class Doc(Record):
    title: str = "t"
    features: dict[str, Any] = {}
    tags: list[str] | None = None
    numbers: list[float] = []


class WithInner(Record):
    inner: Inner | None = None
    features: dict[str, Any] = {}


class Serialised(Record):
    features: dict[str, Any] = {}

    @field_serializer("features")
    def _upper(self, value: dict[str, Any]) -> dict[str, Any]:
        return {k.upper(): v for k, v in value.items()}


def _nested(depth: int) -> list[Any]:
    doc: list[Any] = []
    for _ in range(depth - 1):
        doc = [doc]
    return doc


NAN, INF = float("nan"), float("inf")
DOCUMENTS: list[dict[str, Any]] = [
    {},
    {"k": "v", "n": 1, "f": 1.5e300, "b": True, "none": None, "list": [1, [2, {"x": "y"}]]},
    {"text": 'quote " back \\ slash \t tab \n newline', "uni": "ü 🙂 \u2028 日本"},
    {"legit": "NaN BaNaNa Infinity -Infinity \ufffd \\u0000 as text"},
    {"NaN": 1, "Infinity": [2]},
    {"deep": _nested(98)},
    {"deep": _nested(99)},
    {"deep": _nested(100)},
    {"wide": [[1]] * 300},
    {"nul": "a\x00b"},
    {"nul\x00key": 1},
    {"nan": NAN},
    {"inf": [1, {"x": -INF}]},
    {"surrogate": "\ud800"},
    {"\udc00": "surrogate key"},
    {"bytes": b"\xff\xfe"},
    {"deep": _nested(150)},
    {"very deep": _nested(5000)},
]


def _outcome(rules: RowRules, objs: list[Any], json_text: bool) -> Any:
    try:
        rows = rules.dump_many_json_text(objs) if json_text else rules.dump_many(objs)
    except InvalidQuery as exc:
        return ("refused", str(exc))
    return [
        {k: json.loads(v) if isinstance(v, bytes) else v for k, v in row.items()} for row in rows
    ]


def _compare(model: type[Record], objs: list[Any]) -> None:
    rules = RowRules(model_info(model))
    exact = _outcome(rules, objs, json_text=False)
    assert _outcome(rules, objs, json_text=True) == exact


@pytest.mark.parametrize("features", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_one_document_alone_and_among_clean_ones(features: dict[str, Any]) -> None:
    bad = Doc(id="d9", features=features)
    _compare(Doc, [bad])
    _compare(Doc, [Doc(id=f"d{i}", features={"i": i}) for i in range(5)] + [bad])


@pytest.mark.parametrize(
    "fields",
    [
        {"tags": None},
        {"tags": ["a", "b"]},
        {"numbers": [1.0, NAN]},
        {"numbers": [INF]},
        {"title": "a\x00"},
    ],
    ids=range(5),
)
def test_other_fields(fields: dict[str, Any]) -> None:
    obj = Doc(id="d1")
    for name, value in fields.items():
        setattr(obj, name, value)  # unvalidated, as a caller may do
    _compare(Doc, [Doc(id="d0"), obj])


def test_null_in_a_field_that_may_not_be_none() -> None:
    obj = Doc(id="d1")
    obj.features = None  # type: ignore[assignment]
    _compare(Doc, [Doc(id="d0"), obj])


def test_nested_model_writing_nan_as_null_is_still_refused() -> None:
    """Its config writes NaN as null in JSON; the exact dump keeps (and refuses) it."""
    obj = WithInner(id="w1", inner=Inner(x=NAN))
    _compare(WithInner, [WithInner(id="w0"), obj])
    with pytest.raises(InvalidQuery, match="inner"):
        RowRules(model_info(WithInner)).dump_many_json_text([obj])


def test_field_serializers_apply_alike() -> None:
    _compare(Serialised, [Serialised(id="s0", features={"a": 1}), Serialised(id="s1")])


def test_wrong_objects_are_refused_alike() -> None:
    _compare(Doc, [Doc(id="d0"), WithInner(id="w0")])
    _compare(Doc, [Doc.model_construct(id=5, features={})])


def test_clean_documents_come_as_their_text() -> None:
    rows = RowRules(model_info(Doc)).dump_many_json_text([Doc(id="d0", features=DOCUMENTS[1])])
    assert isinstance(rows[0]["features"], bytes) and rows[0]["tags"] is None
    assert json.loads(rows[0]["features"]) == DOCUMENTS[1]
