"""The repository contract: the `Repository` and `Database` protocols.

Every backend (`repositories.sql`, `repositories.jsonfile`) implements them through
`repositories.base.RepositoryBase`/`DatabaseBase`; services type against these.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar, runtime_checkable

from models.base import Record
from repositories.context import Context
from repositories.keyset import Page

__all__ = ["Database", "OrderBy", "Repository", "Where"]

T = TypeVar("T", bound=Record)
#: ``{"field__op": value}``; see `repositories.lookups`.
Where = Mapping[str, Any] | None
#: field names, ``-`` for descending.
OrderBy = Sequence[str] | str | None


@runtime_checkable
class Repository(Protocol[T]):
    """CRUD and queries on one model's table, scoped to the database's context."""

    model: type[T]

    def create(self, obj: T) -> T:
        """Store a new record; `obj` itself comes back, stamped (audit fields, mandate)."""
        ...

    def create_many(self, objs: Iterable[T], batch_size: int = 1000) -> list[T]:
        """Store new records atomically; the objects come back stamped, as by `create`."""
        ...

    def get(self, record_id: str) -> T | None: ...
    def find(
        self,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[T]: ...
    def iter(
        self, where: Where = None, batch_size: int = 1000, order_by: OrderBy = None
    ) -> Iterator[T]: ...
    def page(
        self,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[T]: ...
    def count(self, where: Where = None) -> int: ...
    def update(
        self,
        record_id: str,
        changes: Mapping[str, Any],
        expected_modified_at: float | None = None,
    ) -> T: ...
    def upsert(self, obj: T) -> T: ...
    def delete(self, record_id: str, expected_modified_at: float | None = None) -> bool: ...
    def delete_many(self, where: Where) -> int: ...
    def import_rows(
        self,
        rows: Iterable[Mapping[str, Any] | T],
        batch_size: int = 1000,
        skip_existing: bool = True,
    ) -> int: ...


@runtime_checkable
class Database(Protocol):
    """One logical database (app, chat, management, realestate) seen by one context."""

    url: str
    context: Context

    def repository(self, model: type[T]) -> Repository[T]: ...
    def ensure_schema(self, *models: type[Record]) -> None: ...
    def initial_id(self, model: type[Record]) -> str | None: ...
    def set_initial_id(self, model: type[Record], record_id: str) -> None: ...
    def with_context(self, context: Context) -> Database: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...
