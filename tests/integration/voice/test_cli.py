"""`connectors voice` commands with the real clients on the fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli.common import State
from connectors.cli.voice import app
from integrations.voice.config import CREDENTIALS_KEY as CREDENTIALS_ENV
from integrations.voice.google import GoogleVoice
from integrations.voice.headers import sniff
from integrations.voice.testing import FakeGoogle, speech_pcm, speech_wav
from integrations.voice.testing.audio import AudioFixture


def _invoke(voice: GoogleVoice | None, *args: str):  # type: ignore[no-untyped-def]
    obj = State(services={"google_voice": voice} if voice is not None else None)
    return CliRunner().invoke(app, list(args), obj=obj)


def test_transcribe(voice: GoogleVoice, tmp_path: Path, audio: dict[str, AudioFixture]) -> None:
    path = tmp_path / "a.ogg"
    path.write_bytes(audio["ogg_opus"].data)
    result = _invoke(voice, "transcribe", str(path), "-l", "en-US")
    assert result.exit_code == 0 and result.stdout.strip() == "hello world this is a"
    result = _invoke(voice, "transcribe", str(path), "--json")
    assert json.loads(result.stdout)["calls"] == 1
    silent = tmp_path / "s.wav"
    silent.write_bytes(audio["silence"].data)
    assert "silence" in _invoke(voice, "transcribe", str(silent)).stdout


def test_transcribe_error_exit(
    voice: GoogleVoice, tmp_path: Path, audio: dict[str, AudioFixture]
) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(audio["random_bytes"].data)
    result = _invoke(voice, "transcribe", str(path))
    assert result.exit_code == 2  # invalid input
    assert "unrecognised audio" in result.output and "--rate" in result.output


def test_translate_speak_languages_voices(voice: GoogleVoice, tmp_path: Path) -> None:
    assert _invoke(voice, "translate", "Hallo Welt", "--to", "en").stdout.strip() == "Hello World"
    out = tmp_path / "out.ogg"
    result = _invoke(voice, "speak", "Hallo Welt.", "-o", str(out), "--encoding", "OGG_OPUS")
    assert result.exit_code == 0 and "de-DE-Neural2-C" in result.stdout
    assert sniff(out.read_bytes()).codec == "opus"
    languages = _invoke(voice, "languages", "--display", "de").stdout
    assert "de\tDeutsch" in languages
    voices = json.loads(_invoke(voice, "voices", "-l", "en-GB", "--json").stdout)
    assert [v["name"] for v in voices] == ["en-GB-Wavenet-B"]


def test_credentials_come_from_the_environment_and_stay_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CREDENTIALS_ENV, raising=False)
    missing = _invoke(None, "voices")
    assert missing.exit_code == 2 and CREDENTIALS_ENV in missing.output
    monkeypatch.setenv(CREDENTIALS_ENV, '{"type": "service_account", "private_key": "TOPSECRET"')
    broken = _invoke(None, "voices")
    assert broken.exit_code == 6 and "not valid JSON" in broken.output  # authentication
    assert "TOPSECRET" not in broken.output
    monkeypatch.setenv(CREDENTIALS_ENV, "fernet:gAAAAB-not-a-token")
    monkeypatch.setenv("CONFIG_KEY", "k" * 43 + "=")
    encrypted = _invoke(None, "voices")
    assert encrypted.exit_code == 2
    assert CREDENTIALS_ENV.upper() in encrypted.output.upper()
    assert "not-a-token" not in encrypted.output


def test_the_root_config_option_reaches_the_voice_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.cli import app as root

    monkeypatch.delenv(CREDENTIALS_ENV, raising=False)
    (tmp_path / "x.ini").write_text(f"{CREDENTIALS_ENV} = not json at all\n")
    without = CliRunner().invoke(root, ["voice", "voices"])
    assert without.exit_code == 2 and CREDENTIALS_ENV in without.output
    with_x = CliRunner().invoke(root, ["--config", str(tmp_path / "x.ini"), "voice", "voices"])
    assert with_x.exit_code == 6 and "not valid JSON" in with_x.output  # X's value was read


def test_speak_checks_the_output_folder_before_the_billed_call(
    voice: GoogleVoice, fake: FakeGoogle, tmp_path: Path
) -> None:
    result = _invoke(voice, "speak", "Hallo", "-o", str(tmp_path / "missing" / "dir" / "x.mp3"))
    assert result.exit_code == 2
    assert "the folder" in result.output and "does not exist" in result.output
    assert fake.count("TextToSpeech/SynthesizeSpeech") == 0


def test_voices_for_an_unknown_language_says_so(voice: GoogleVoice, fake: FakeGoogle) -> None:
    result = _invoke(voice, "voices", "-l", "xx-XX")
    assert result.exit_code == 3  # not found
    assert "no Text-to-Speech voices for xx-XX" in result.output


def test_a_raw_file_without_rate_asks_for_it(
    voice: GoogleVoice, fake: FakeGoogle, tmp_path: Path
) -> None:
    raw = tmp_path / "mic.pcm"
    raw.write_bytes(speech_pcm(2))
    refused = _invoke(voice, "transcribe", str(raw))
    assert refused.exit_code == 2 and "--rate" in refused.output
    assert fake.count() == 0
    heard = _invoke(voice, "transcribe", str(raw), "--rate", "16000", "-l", "en-US")
    assert heard.exit_code == 0 and heard.stdout.strip() == "hello world"


def test_an_unknown_model_is_reported_not_replaced(
    voice: GoogleVoice, fake: FakeGoogle, tmp_path: Path
) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(speech_wav(2))
    result = _invoke(voice, "transcribe", str(path), "--model", "nonsense")
    assert result.exit_code == 2 and 'model "nonsense"' in result.output
    assert fake.recognize_calls == 1


def test_serve_is_a_voice_command() -> None:
    result = _invoke(None, "serve", "--help")
    assert result.exit_code == 0
    assert "--demo" in result.output and "--origin" in result.output
