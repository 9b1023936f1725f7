"""The `realestate` database."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from models.base import Record, indexed

__all__ = ["Property"]


class Property(Record):
    mandate_id: str = ""
    title: str
    city: str | None = None
    zip_code: str | None = None
    price: float | None = None
    rooms: int | None = None
    available: bool = True
    features: dict[str, Any] = indexed(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
