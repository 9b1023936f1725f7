"""What every ``connectors`` sub-command shares: the root's state, the console, and the one
error handler.

Every command group is a `Group`: a `ConnectorsError` escaping any command (or a
`UsageProblem` raised by the CLI itself) prints one line on stderr, secrets masked, and
exits with the error's `ExitCode`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape as rich_escape
from typer.core import TyperGroup

from connectors.settings import Settings, load_settings, redact
from models.errors import ConnectorsError, ExitCode

__all__ = [
    "EXIT_CODES_HELP",
    "Group",
    "State",
    "UsageProblem",
    "console",
    "err_console",
    "escape",
    "settings_of",
    "state_of",
    "sub_app",
]

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 failed, 2 usage or invalid input (incl. configuration), "
    "3 not found, 4 conflict, 5 unavailable (try again later), 6 access denied, "
    "7 damaged data or schema drift."
)


class UsageProblem(ConnectorsError):
    """The command line itself is wrong (a missing or contradictory option)."""

    exit_code = ExitCode.USAGE


class State:
    """The root command's options, and what sub-commands share through ``ctx.obj``.

    Settings are loaded once, on first use, from ``--config``/``--env`` (else
    ``$CONNECTORS_CONFIG``/``$CONNECTORS_ENV``). `services` holds ready-made clients that
    tests (or an embedding application) inject instead of the configured ones, e.g.
    ``State(services={"google_voice": voice})``.
    """

    def __init__(
        self,
        config: Path | None = None,
        env: str | None = None,
        services: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.services = dict(services or {})
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config, self.env)
        return self._settings

    @property
    def loaded(self) -> Settings | None:
        """The settings if they were loaded (for masking their secrets), else None."""
        return self._settings

    def service(self, name: str, make: Callable[[], T]) -> T:
        """The injected service `name`, else `make()` (made once, then kept)."""
        if name not in self.services:
            self.services[name] = make()
        service: T = self.services[name]
        return service


def state_of(ctx: typer.Context) -> State:
    """The root command's `State` (created on first use)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def settings_of(ctx: typer.Context) -> Settings:
    """The settings selected by the root options (loaded once per process)."""
    return state_of(ctx).settings


def escape(text: str) -> str:
    """Text safe to print with Rich markup on."""
    return rich_escape(text)


def report(exc: ConnectorsError, ctx: typer.Context | None) -> typer.Exit:
    """Print ``error: <one line>`` (secrets masked) on stderr; the Exit to raise."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    settings = state_of(ctx).loaded if ctx is not None else None
    text = escape(redact(message, settings))
    err_console.print(f"[red]error:[/red] {text}", highlight=False, soft_wrap=True)
    return typer.Exit(int(exc.exit_code))


class Group(TyperGroup):
    """A command group that reports `ConnectorsError` as one line and its exit code."""

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except ConnectorsError as exc:
            raise report(exc, ctx) from exc


def sub_app(help_text: str) -> typer.Typer:
    """A sub-command group with the shared error handler."""
    return typer.Typer(
        cls=Group,
        help=help_text,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_show_locals=False,  # locals may hold secrets
    )
