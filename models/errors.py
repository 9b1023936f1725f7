"""The root of every error this library raises, and the exit code each kind maps to.

Every package hangs its tree below `ConnectorsError`, so a caller (or the CLI's one error
handler) can catch the library's errors without catching bugs::

    ConnectorsError                       exit 1
    ├── ConfigError                       exit 2   connectors.secrets: a setting is missing or bad
    ├── RepositoryError                   exit 1   repositories.errors (its own tree)
    ├── IntegrationError                  exit 1   integrations.errors (its own tree)
    ├── MigrationError                    exit 7   connectors.migrate
    ├── CopyError                         exit 4   connectors.transfer
    └── DemoFailed                        exit 1   connectors.demo

The subclasses set `exit_code` by kind (`ExitCode`): a usage or input problem is 2, a
missing resource 3, a conflict 4, an unreachable or overloaded service 5 (try again
later), a refused access 6, damaged or drifting data 7.
"""

from __future__ import annotations

import enum

__all__ = ["ConnectorsError", "ExitCode"]


class ExitCode(enum.IntEnum):
    """Process exit codes of the ``connectors`` command, by kind of error."""

    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    UNAVAILABLE = 5
    DENIED = 6
    DAMAGED = 7


class ConnectorsError(Exception):
    """Root of every error raised by this library.

    Attributes:
        exit_code: the ``connectors`` command's exit code for this kind of error.
    """

    exit_code: ExitCode = ExitCode.FAILED
