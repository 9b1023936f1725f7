"""The ``connectors`` command (Typer + Rich), on top of everything else.

``db upgrade|check|copy`` · ``records list|get|put|delete`` · ``config encrypt`` ·
``tickets …`` · ``voice …`` · ``demo``. The root loads the settings once (``--config``,
``--env``) and every sub-command reads them from its `State`; every group reports the
library's errors through the one handler in `connectors.cli.common`.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

from connectors.cli import db, records, tickets, voice
from connectors.cli.common import EXIT_CODES_HELP, Group, State, UsageProblem, console

__all__ = ["DISTRIBUTION", "app", "main"]

#: the distribution this package is installed as
DISTRIBUTION = "connectors-layer"

app = typer.Typer(
    cls=Group,
    help="connectors: repositories, tickets and voice from the command line.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
config_app = typer.Typer(cls=Group, help="Configuration helpers.", no_args_is_help=True)
app.add_typer(db.app, name="db")
app.add_typer(records.app, name="records")
app.add_typer(config_app, name="config")
app.add_typer(tickets.app, name="tickets")
app.add_typer(voice.app, name="voice")


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"connectors {_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Config file (default $CONNECTORS_CONFIG or ./config.ini)."),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", help="Environment overlay: reads config.ENV.ini over the file."),
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """connectors: repositories, tickets and voice from the command line."""
    if isinstance(ctx.obj, State):  # injected (tests, an embedding application)
        ctx.obj.config, ctx.obj.env = config or ctx.obj.config, env or ctx.obj.env
    else:
        ctx.obj = State(config, env)


@config_app.command("encrypt")
def encrypt(
    value: Annotated[
        str | None,
        typer.Argument(help="The value; omitted: prompted for (hidden) or read from stdin."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", envvar="CONFIG_KEY", help="Fernet key (default $CONFIG_KEY)."),
    ] = None,
    generate_key: Annotated[
        bool, typer.Option("--generate-key", help="Print a new CONFIG_KEY and exit.")
    ] = False,
) -> None:
    """Encrypt a secret for config.ini as fernet:TOKEN (decrypted with CONFIG_KEY)."""
    from connectors.secrets import encrypt as encrypt_value
    from connectors.secrets import generate_key as new_key

    if generate_key:
        typer.echo(new_key())
        return
    if not key:
        raise UsageProblem("CONFIG_KEY is not set: pass --key, set CONFIG_KEY, or --generate-key")
    if value is not None:
        plain = value
    elif sys.stdin.isatty():
        plain = typer.prompt("Value to encrypt", hide_input=True)
    else:
        plain = sys.stdin.read().rstrip("\n")
    if not plain:
        raise UsageProblem("nothing to encrypt: give a value or pipe it on stdin")
    typer.echo(encrypt_value(plain, key))


@app.command()
def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo's JSON store and copies live.")
    ] = Path("data/demo"),
) -> None:
    """Show the layer at work: tenants, access scoping, audit trail, copy + verify."""
    from connectors.cli.common import settings_of
    from connectors.demo import run_demo

    run_demo(settings_of(ctx), directory, console)


def main() -> None:
    """Console-script entry point."""
    app()
