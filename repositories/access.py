"""Access scoping (the original component's "UAM filters") shared by every backend.

On tenant-scoped models (those with a ``mandate_id`` field) a non-sysadmin context sees,
counts, changes and deletes only records of its own mandate; records of another mandate
behave as if they did not exist. A ``user`` may change only records it created, an
``admin`` any record of its mandate, a ``sysadmin`` anything. The scope is expressed as
extra `Condition`s ANDed to every query, so each backend enforces it with the same
machinery that evaluates the caller's own filter: no filter can widen it.

The mandates themselves (`models.Mandate`) are scoped by their own id: a Mandate record
is a record of the mandate it is. A non-sysadmin context sees only its own mandate's
record (an ``admin`` may change it), and only a sysadmin creates or deletes mandates
(deleting follows creating: an admin cannot remove the tenant it cannot make).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.app import Mandate
from models.schema import FieldSpec, ModelInfo
from repositories.context import Context
from repositories.errors import AccessDenied, InvalidQuery
from repositories.lookups import Condition

__all__ = ["Scope", "scope_for"]


@dataclass(frozen=True, slots=True)
class Scope:
    info: ModelInfo
    context: Context
    read: tuple[Condition, ...]
    write: tuple[Condition, ...]

    def _check_mandates(self, verb: str) -> None:
        if issubclass(self.info.model, Mandate) and not self.context.is_sysadmin:
            raise AccessDenied(f"{self.info.table}: only a sysadmin context {verb} mandates")

    def check_delete(self) -> None:
        """Refuse deleting what this context could not create (a Mandate record)."""
        self._check_mandates("deletes")

    def stamp_mandates(self, rows: Sequence[dict[str, Any]]) -> None:
        """Fill or check the mandate of each record about to be created."""
        self._check_mandates("creates")
        tenant = self.info.tenant
        if tenant is None:
            return
        for row in rows:
            self._stamp(tenant, row)

    def _stamp(self, tenant: FieldSpec, row: dict[str, Any]) -> None:
        mandate = row.get(tenant.storage) or ""
        if not mandate:
            if not self.context.mandate_id:
                raise InvalidQuery(
                    f"{self.info.table}: a tenant-scoped record needs a mandate_id "
                    "(the context has none to stamp)"
                )
            row[tenant.storage] = self.context.mandate_id
        elif not self.context.is_sysadmin and mandate != self.context.mandate_id:
            raise AccessDenied(
                f"{self.info.table}: context of mandate {self.context.mandate_id!r} "
                f"cannot create records in mandate {mandate!r}"
            )

    def check_changes(self, values: dict[str, Any]) -> None:
        """Refuse moving a record to another mandate (sysadmins excepted)."""
        tenant = self.info.tenant
        if tenant is None or tenant.storage not in values or self.context.is_sysadmin:
            return
        if values[tenant.storage] != self.context.mandate_id:
            raise AccessDenied(
                f"{self.info.table}: a record cannot be moved to mandate {values[tenant.storage]!r}"
            )


def scope_for(info: ModelInfo, context: Context) -> Scope:
    """The read and write conditions a context adds to every query on a model."""
    read: list[Condition] = []
    tenant: FieldSpec | None = info.tenant
    if issubclass(info.model, Mandate):
        tenant = info.by_name["id"]  # a mandate's record belongs to that mandate
    if tenant is not None and not context.is_sysadmin:
        read.append(Condition(tenant, "eq", context.mandate_id))
    write = list(read)
    if context.privilege == "user":
        write.append(Condition(info.by_name["created_by"], "eq", context.user_id))
    return Scope(info, context, tuple(read), tuple(write))
