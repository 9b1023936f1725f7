"""The `app` database: mandates (tenants), users and their external connections."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from models.base import Record, indexed

__all__ = ["PRIVILEGES", "Mandate", "Privilege", "User", "UserConnection"]

#: what a user may do: ``sysadmin`` every mandate, ``admin`` its mandate, ``user`` its records
Privilege = Literal["sysadmin", "admin", "user"]
PRIVILEGES: tuple[Privilege, ...] = ("sysadmin", "admin", "user")


class Mandate(Record):
    """A tenant. Not itself tenant-scoped: its id is what other records point at."""

    name: str
    language: str = "en"
    enabled: bool = True


class User(Record):
    username: str = indexed()
    mandate_id: str = ""
    email: str | None = None
    full_name: str | None = None
    language: str = "en"
    privilege: Privilege = "user"
    enabled: bool = True
    age: int | None = None


class UserConnection(Record):
    """An external account linked to a user (e.g. a Jira or Google login)."""

    user_id: str
    mandate_id: str = ""
    authority: str
    external_username: str | None = None
    status: str = "active"
    settings: dict[str, Any] = Field(default_factory=dict)
