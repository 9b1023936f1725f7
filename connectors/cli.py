"""The `connectors` command (placeholder until the CLI issue)."""

import typer

app = typer.Typer(help="connectors: repositories, tickets and voice from the command line.")


@app.command()
def demo() -> None:
    """Run the demo on the embedded JSON default."""
    typer.echo("connectors demo: placeholder")


def main() -> None:
    app()
