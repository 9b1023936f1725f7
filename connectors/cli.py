"""The ``connectors`` command (Typer + Rich).

``db upgrade|check|copy`` · ``records list|get|put|delete`` · ``config encrypt`` ·
``tickets …`` · ``voice …`` · ``demo``. The tickets and voice sub-commands are mounted
from their packages; if one cannot be imported, only that sub-command reports why.
Errors print one line on stderr and exit 1.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from connectors import cli_db, cli_records
from connectors.cli_common import State, cli_errors, console, fail

__all__ = ["app", "main", "mount"]

app = typer.Typer(
    help="connectors: repositories, tickets and voice from the command line.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
config_app = typer.Typer(help="Configuration helpers.")
app.add_typer(cli_db.app, name="db")
app.add_typer(cli_records.app, name="records")
app.add_typer(config_app, name="config")


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Config file (default $CONNECTORS_CONFIG or ./config.ini)."),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", help="Environment overlay: reads config.<env>.ini over it."),
    ] = None,
) -> None:
    """connectors: repositories, tickets and voice from the command line."""
    ctx.obj = State(config, env)


@config_app.command("encrypt")
@cli_errors
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
    """Encrypt a secret for config.ini as ``fernet:<token>`` (decrypted with CONFIG_KEY)."""
    from connectors.secrets import encrypt as encrypt_value
    from connectors.secrets import generate_key as new_key

    if generate_key:
        typer.echo(new_key())
        return
    if not key:
        raise fail("CONFIG_KEY is not set: pass --key, set CONFIG_KEY, or --generate-key one")
    if value is not None:
        plain = value
    elif sys.stdin.isatty():
        plain = typer.prompt("Value to encrypt", hide_input=True)
    else:
        plain = sys.stdin.read().rstrip("\n")
    if not plain:
        raise fail("nothing to encrypt: give a value or pipe it on stdin")
    typer.echo(encrypt_value(plain, key))


@app.command()
@cli_errors
def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo's JSON store and copies live.")
    ] = Path("data/demo"),
) -> None:
    """Show the layer at work: tenants, access scoping, audit trail, copy + verify."""
    from connectors.cli_common import settings_of
    from connectors.demo import DemoFailed, run_demo

    try:
        run_demo(settings_of(ctx), directory, console)
    except DemoFailed as exc:
        raise fail(str(exc)) from exc


def mount(parent: typer.Typer, name: str, module: str) -> None:
    """Mount ``<module>.app`` as sub-command `name`, or a stub saying why it cannot be."""
    try:
        sub = importlib.import_module(module).app
        if not isinstance(sub, typer.Typer):
            raise TypeError(f"{module}.app is not a typer.Typer")
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]

        @parent.command(
            name,
            help=f"(unavailable: {reason})",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )
        def unavailable() -> None:
            raise fail(f"`connectors {name}` is unavailable: {reason}")

        return
    parent.add_typer(sub, name=name)


mount(app, "tickets", "integrations.tickets.cli")
mount(app, "voice", "integrations.voice.cli")


def main() -> None:
    """Console-script entry point."""
    app()
