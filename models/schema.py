"""Introspection of `Record` models: one `FieldSpec` per field, cached per model.

Shared by the SQL mirror (`models.tables`), the lookup compiler and every backend, so
all of them agree on storage names, kinds, nullability and indexes.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter

from models.base import Record, table_name

__all__ = ["FieldKind", "FieldSpec", "ModelInfo", "model_info"]

FieldKind = Literal["text", "int", "float", "bool", "datetime", "json"]
TENANT_FIELD = "mandate_id"


@dataclass(frozen=True)
class FieldSpec:
    """One model field as storage sees it."""

    name: str  # python attribute name (snake_case)
    storage: str  # stored/column name (camelCase or _audit)
    kind: FieldKind
    nullable: bool
    indexed: bool
    annotation: Any = field(compare=False, repr=False)
    #: The field's own constraints and validators (``Field(ge=0)``, ``Annotated[...,
    #: AfterValidator(f)]``): pydantic keeps them beside the annotation, not in it.
    metadata: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @functools.cached_property
    def adapter(self) -> TypeAdapter[Any]:
        """Validates one value of this field (without None when the field is nullable)."""
        return TypeAdapter(_strip_optional(self.annotation)[0])


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model: type[Record]
    table: str
    fields: tuple[FieldSpec, ...]
    by_name: dict[str, FieldSpec]  # python name and storage name -> spec
    tenant: FieldSpec | None

    def resolve(self, name: str) -> FieldSpec | None:
        return self.by_name.get(name)


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) == 1:
            return args[0], nullable
        return typing.Union[tuple(args)], nullable  # noqa: UP007
    return annotation, False


def _kind(annotation: Any) -> FieldKind:
    base = annotation
    origin = typing.get_origin(base)
    if origin is typing.Annotated:
        return _kind(typing.get_args(base)[0])
    if origin is Literal:
        values = typing.get_args(base)
        if all(isinstance(v, str) for v in values):
            return "text"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "int"
        return "json"
    if isinstance(base, type):
        if issubclass(base, bool):
            return "bool"
        if issubclass(base, enum.Enum):
            return "text" if issubclass(base, str) else "json"
        if issubclass(base, str):
            return "text"
        if issubclass(base, int):
            return "int"
        if issubclass(base, float):
            return "float"
        if issubclass(base, dt.datetime):
            return "datetime"
    return "json"


@functools.cache
def model_info(model: type[Record]) -> ModelInfo:
    """The cached `ModelInfo` of a `Record` subclass."""
    specs: list[FieldSpec] = []
    by_name: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        base, nullable = _strip_optional(info.annotation)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        kind = _kind(base)
        spec = FieldSpec(
            name=name,
            storage=info.alias or name,
            kind=kind,
            nullable=nullable,
            indexed=bool(extra.get("index")) or (name.endswith("_id") and name != "id"),
            annotation=info.annotation,
            metadata=tuple(info.metadata),
        )
        specs.append(spec)
        by_name[name] = spec
        by_name[spec.storage] = spec
    return ModelInfo(
        model=model,
        table=table_name(model),
        fields=tuple(specs),
        by_name=by_name,
        tenant=by_name.get(TENANT_FIELD),
    )
