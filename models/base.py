"""The `Record` base model: ids, audit fields and storage (camelCase) names.

Python attributes are snake_case; storage and JSON names are camelCase aliases
(`mandate_id` is stored as `mandateId`), the audit fields are stored as `_createdAt`,
`_createdBy`, `_modifiedAt`, `_modifiedBy`. Filters and update dicts accept either name.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticUndefined

__all__ = ["AUDIT_FIELDS", "Record", "indexed", "new_id", "table_name"]

AUDIT_FIELDS = ("created_at", "created_by", "modified_at", "modified_by")


def new_id() -> str:
    """A new record id: uuid4 as 32 hex characters."""
    return uuid.uuid4().hex


def indexed(default: Any = PydanticUndefined, **kwargs: Any) -> Any:
    """A field marked `index=True`: a btree index (GIN for JSON fields) and a cache index."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["index"] = True
    return Field(default, json_schema_extra=extra, **kwargs)


def _alias(name: str) -> str:
    return to_camel(name)


class Record(BaseModel):
    """Base of every stored model.

    Subclasses may set ``__table_name__``; by default the table is the class name.
    """

    model_config = ConfigDict(
        alias_generator=_alias,
        populate_by_name=True,
        serialize_by_alias=True,
        validate_assignment=False,
        allow_inf_nan=False,
        # keep NaN/infinity inside JSON fields as floats when dumping, so the repositories
        # refuse them (the default silently turns them into null)
        ser_json_inf_nan="constants",
        extra="ignore",
    )

    __table_name__: ClassVar[str | None] = None

    id: str = Field(default_factory=new_id, min_length=1, max_length=200)
    created_at: float | None = Field(default=None, alias="_createdAt")
    created_by: str | None = Field(default=None, alias="_createdBy")
    modified_at: float | None = Field(default=None, alias="_modifiedAt")
    modified_by: str | None = Field(default=None, alias="_modifiedBy")


def table_name(model: type[Record]) -> str:
    """The table a model is stored in: ``__table_name__`` or the class name."""
    return model.__dict__.get("__table_name__") or model.__name__
