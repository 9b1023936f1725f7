"""``connectors voice …``: sniff, transcribe, translate, speak, languages, voices, serve.

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
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from connectors.cli.common import UsageProblem, state_of, sub_app
from connectors.secrets import ConfigError
from integrations.errors import IntegrationError, NotFound, UnsupportedAudio

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
    from integrations.voice.headers import sniff as sniff_bytes

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
    """Transcribe an audio file (headerless 16-bit mono PCM: give its --rate)."""
    from integrations.voice.headers import sniff as sniff_bytes

    audio = file.read_bytes()
    if rate is None:
        try:
            sniff_bytes(audio)
        except UnsupportedAudio as exc:
            if str(exc).startswith("unrecognised audio"):
                raise UsageProblem(
                    f"{file}: {exc}; if it is headerless 16-bit mono PCM, give its sample "
                    "rate with --rate"
                ) from exc
    result = _voice(ctx).speech_to_text(
        audio, language, tuple(alternative or ()), model, sample_rate=rate
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
    # Checked before the (billed) call: a missing folder must not cost a synthesis.
    folder = output.parent
    if not folder.is_dir():
        raise UsageProblem(f"cannot write {output}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise UsageProblem(f"cannot write {output}: permission denied")
    result = _voice(ctx).text_to_speech(text, language, voice, gender, encoding)
    try:
        output.write_bytes(result.audio)
    except OSError as exc:
        raise UsageProblem(f"cannot write {output}: {exc.strerror or exc}") from exc
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
    if not result:
        where = f" for {language}" if language else ""
        raise NotFound(f"no Text-to-Speech voices{where}; `connectors voice voices` lists all")
    _emit(
        [v.model_dump() for v in result],
        as_json,
        [f"{v.name}\t{v.gender}\t{','.join(v.language_codes)}" for v in result],
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Answer from the shipped Google fake: no credentials."),
    ] = False,
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="Another origin whose pages may use the interpreter."),
    ] = None,
) -> None:
    """Serve the voice routes, the realtime interpreter and its page (uvicorn).

    Open http://HOST:PORT/ for the interpreter page. Limits come from the VOICE_SERVICE_*
    settings (config.ini or the environment).
    """
    from integrations.voice.config import VoiceServiceSettings
    from integrations.voice.interface import VoiceInterface
    from integrations.voice.server import serve as run

    state = state_of(ctx)
    settings = state.settings.section(VoiceServiceSettings)
    if origin:
        extra = tuple(o.rstrip("/") for o in origin)
        settings = settings.model_copy(update={"allowed_origins": settings.allowed_origins + extra})
    interface = None if demo else VoiceInterface(_voice(ctx))
    where = f"http://{host}:{port}/"
    typer.echo(f"voice service on {where}" + (" (demo: a local fake Google)" if demo else ""))
    run(interface, host=host, port=port, demo=demo, settings=settings)
