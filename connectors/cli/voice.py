"""``connectors voice …``: sniff, transcribe, translate, speak, languages, voices.

The Google credential is the setting ``Connector_GoogleSpeech_API_KEY_SECRET``: the
service-account JSON itself, from config.ini or the environment, plain or ``fernet:``
encrypted (`integrations.voice.config.GoogleConfig`); it is never printed or logged.
Start-up imports nothing heavy: PyAV and the Google libraries load inside the commands that
need them, and a missing ``voice`` extra is reported with the install hint. Tests inject a
ready client as ``State(services={"google_voice": ...})``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from connectors.cli.common import state_of, sub_app
from connectors.secrets import ConfigError
from integrations.errors import IntegrationError

__all__ = ["app"]

app = sub_app("Audio sniffing and Google speech, translation, TTS.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _voice(ctx: typer.Context) -> Any:
    """The `GoogleVoice` of this run: injected as ``services["google_voice"]``, else made
    from the configured credential."""
    state = state_of(ctx)

    def make() -> Any:
        from integrations.voice.config import CREDENTIALS_KEY, GoogleConfig

        credentials = state.settings.section(GoogleConfig).credentials
        if credentials is None:
            raise ConfigError(f"set {CREDENTIALS_KEY} to the Google service-account JSON")
        from integrations.voice.google import GoogleVoice

        return GoogleVoice(credentials)

    return state.service("google_voice", make)


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
    result = _voice(ctx).speech_to_text(
        file.read_bytes(), language, tuple(alternative or ()), model, sample_rate=rate
    )
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
    result = _voice(ctx).translate(text, target, source)
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
    result = _voice(ctx).text_to_speech(text, language, voice, gender, encoding)
    output.write_bytes(result.audio)
    typer.echo(f"{output}: {len(result.audio)} bytes {result.encoding}, voice {result.voice}")


@app.command()
def languages(
    ctx: typer.Context,
    display: Annotated[str, typer.Option(help="Language of the names.")] = "en",
    as_json: JsonFlag = False,
) -> None:
    """List the languages Translation supports."""
    result = _voice(ctx).languages(display)
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
    result = _voice(ctx).voices(language)
    _emit(
        [v.model_dump() for v in result],
        as_json,
        [f"{v.name}\t{v.gender}\t{','.join(v.language_codes)}" for v in result],
    )
