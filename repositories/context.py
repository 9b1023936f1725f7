"""Who is calling: user, mandate (tenant) and privilege."""

from __future__ import annotations

from dataclasses import dataclass

from models.app import PRIVILEGES, Privilege

__all__ = ["SYSTEM_USER", "Context", "Privilege"]

SYSTEM_USER = "system"


@dataclass(frozen=True, slots=True)
class Context:
    """The caller of a repository operation.

    Attributes:
        user_id: stamped into ``_createdBy``/``_modifiedBy``.
        mandate_id: the tenant whose records a non-sysadmin context sees.
        privilege: ``sysadmin`` sees every mandate; ``admin`` may change any record of its
            mandate; ``user`` only the records it created.
    """

    user_id: str
    mandate_id: str | None = None
    privilege: Privilege = "user"

    def __post_init__(self) -> None:
        if self.privilege not in PRIVILEGES:
            raise ValueError(f"privilege must be one of {PRIVILEGES}, not {self.privilege!r}")
        if not self.user_id:
            raise ValueError("Context.user_id must not be empty")
        if self.privilege != "sysadmin" and not self.mandate_id:
            raise ValueError(f"a {self.privilege!r} context needs a mandate_id")

    @classmethod
    def system(cls) -> Context:
        """The bootstrap context: sysadmin, no mandate, user id ``system``."""
        return cls(user_id=SYSTEM_USER, mandate_id=None, privilege="sysadmin")

    @property
    def is_sysadmin(self) -> bool:
        return self.privilege == "sysadmin"
