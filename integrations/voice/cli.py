"""``connectors voice …``: sniff, transcribe, translate, speak, languages, voices.

The Google credential is the setting ``Connector_GoogleSpeech_API_KEY_SECRET``: the
service-account JSON itself, from config.ini or the environment, plain or ``fernet:``
encrypted (see `connectors.settings`); it is never printed or logged. Start-up imports
nothing heavy: PyAV and the Google libraries load inside the commands that need them, and
a missing ``voice`` extra is reported with the install hint. Tests pass a ready connector
as ``obj={"google_voice": ...}`` to Typer's runner.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from integrations.errors import IntegrationError

__all__ = ["CREDENTIALS_ENV", "app"]

CREDENTIALS_ENV = "Connector_GoogleSpeech_API_KEY_SECRET"

app = typer.Typer(
    name="voice", help="Audio sniffing and Google speech, translation, TTS.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(exc: Exception) -> NoReturn:
    typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
    raise typer.Exit(1)


def _voice(ctx: typer.Context) -> Any:
    if isinstance(ctx.obj, dict) and ctx.obj.get("google_voice") is not None:
        return ctx.obj["google_voice"]
    from connectors.secrets import ConfigError
    from connectors.settings import load_settings

    try:
        credential = load_settings().connector_googlespeech_api_key_secret
    except ConfigError as exc:  # names the setting, never its value
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if credential is None or not credential.get_secret_value().strip():
        typer.echo(f"error: set {CREDENTIALS_ENV} to the Google service-account JSON", err=True)
        raise typer.Exit(2)
    try:
        from integrations.voice.google import GoogleVoice

        return GoogleVoice(credential)
    except IntegrationError as exc:
        _fail(exc)


def _emit(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


@app.command()
def sniff(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Identify audio files from their headers (no decoding, no credentials)."""
    from integrations.voice.sniff import sniff as sniff_bytes

    failed = False
    report = []
    for path in files:
        try:
            info = sniff_bytes(path.read_bytes())
        except IntegrationError as exc:
            failed = True
            report.append({"file": str(path), "error": str(exc)})
            continue
        entry = {"file": str(path), **dataclasses.asdict(info)}
        entry["details"] = dict(info.details)
        report.append(entry)
    if as_json:
        _emit(report, True, [])
    else:
        for item in report:
            if "error" in item:
                typer.echo(f"{item['file']}: error: {item['error']}", err=True)
                continue
            duration = f"{item['duration']:.2f}s" if item["duration"] is not None else "?"
            typer.echo(
                f"{item['file']}: {item['format']}/{item['codec']} "
                f"{item['sample_rate']} Hz {item['channels']} ch {duration} "
                f"speech={item['speech_encoding'] or 'convert'}"
            )
    if failed:
        raise typer.Exit(1)


@app.command()
def transcribe(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    language: Annotated[str, typer.Option("--language", "-l")] = "de-DE",
    alternative: Annotated[list[str] | None, typer.Option("--alt")] = None,
    model: Annotated[str | None, typer.Option()] = None,
    rate: Annotated[int | None, typer.Option(help="Rate of headerless 16-bit PCM.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Transcribe an audio file."""
    try:
        result = _voice(ctx).speech_to_text(
            file.read_bytes(), language, tuple(alternative or ()), model, sample_rate=rate
        )
    except IntegrationError as exc:
        _fail(exc)
    lines = ["(silence: nothing sent)"] if result.is_silent else [result.text]
    _emit(result.model_dump(), as_json, lines)


@app.command()
def translate(
    ctx: typer.Context,
    text: str,
    target: Annotated[str, typer.Option("--to", "-t")] = "en",
    source: Annotated[str | None, typer.Option("--from", "-f")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Translate text."""
    try:
        result = _voice(ctx).translate(text, target, source)
    except IntegrationError as exc:
        _fail(exc)
    _emit(result.model_dump(), as_json, [result.text])


@app.command()
def speak(
    ctx: typer.Context,
    text: str,
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False)],
    language: Annotated[str, typer.Option("--language", "-l")] = "de-DE",
    voice: Annotated[str | None, typer.Option()] = None,
    gender: Annotated[str | None, typer.Option()] = None,
    encoding: Annotated[str, typer.Option()] = "MP3",
) -> None:
    """Synthesise speech into a file."""
    try:
        result = _voice(ctx).text_to_speech(text, language, voice, gender, encoding)
    except IntegrationError as exc:
        _fail(exc)
    output.write_bytes(result.audio)
    typer.echo(f"{output}: {len(result.audio)} bytes {result.encoding}, voice {result.voice}")


@app.command()
def languages(
    ctx: typer.Context,
    display: Annotated[str, typer.Option(help="Language of the names.")] = "en",
    as_json: JsonFlag = False,
) -> None:
    """List the languages Translation supports."""
    try:
        result = _voice(ctx).languages(display)
    except IntegrationError as exc:
        _fail(exc)
    _emit(
        [lang.model_dump() for lang in result],
        as_json,
        [f"{lang.code}\t{lang.name or ''}" for lang in result],
    )


@app.command()
def voices(
    ctx: typer.Context,
    language: Annotated[str | None, typer.Option("--language", "-l")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List Text-to-Speech voices."""
    try:
        result = _voice(ctx).voices(language)
    except IntegrationError as exc:
        _fail(exc)
    _emit(
        [v.model_dump() for v in result],
        as_json,
        [f"{v.name}\t{v.gender}\t{','.join(v.language_codes)}" for v in result],
    )
