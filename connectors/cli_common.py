"""What every ``connectors`` sub-command shares: settings, the console, error reporting.

A command decorated with `cli_errors` turns the project's typed errors into one line on
stderr (secrets masked) and exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from connectors.secrets import ConfigError
from connectors.settings import Settings, load_settings, redact

__all__ = ["State", "cli_errors", "console", "err_console", "fail", "settings_of", "state_of"]

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


class State:
    """Options of the root command, shared with sub-commands through ``ctx.obj``."""

    def __init__(self, config: Path | None = None, env: str | None = None) -> None:
        self.config = config
        self.env = env
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        global _loaded
        if self._settings is None:
            self._settings = _loaded = load_settings(self.config, self.env)
        return self._settings


#: the settings loaded last in this process: their secrets are masked in error lines
_loaded: Settings | None = None


def state_of(ctx: typer.Context) -> State:
    """The root command's `State` (created on first use)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def settings_of(ctx: typer.Context) -> Settings:
    """The settings selected by the root options (loaded once)."""
    return state_of(ctx).settings


def fail(message: str) -> typer.Exit:
    """Print ``error: <message>`` (secrets masked) on stderr; the Exit to raise."""
    text = escape(redact(message, _loaded))
    err_console.print(f"[red]error:[/red] {text}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from connectors.migrate import MigrationError
    from connectors.transfer import CopyError
    from repositories import RepositoryError

    return (RepositoryError, ConfigError, CopyError, MigrationError)


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Report the project's typed errors as one line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except _expected_errors() as exc:
            message = str(exc)
            raise fail(message.splitlines()[0] if message else type(exc).__name__) from exc

    return wrapper


def escape(text: str) -> str:
    """Text safe to print with Rich markup on."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
