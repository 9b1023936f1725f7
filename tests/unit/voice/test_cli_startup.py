"""`connectors voice`: sniff needs nothing heavy; start-up imports stay light; hints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from connectors.cli.voice import app
from integrations.voice.testing.audio import AudioFixture

ROOT = Path(__file__).resolve().parents[3]


def test_sniff_command(tmp_path: Path, audio: dict[str, AudioFixture]) -> None:
    good, bad = tmp_path / "a.webm", tmp_path / "b.bin"
    good.write_bytes(audio["webm_opus"].data)
    bad.write_bytes(audio["random_bytes"].data)
    result = CliRunner().invoke(app, ["sniff", str(good)])
    assert result.exit_code == 0
    assert "webm/opus 48000 Hz 1 ch ? speech=WEBM_OPUS" in result.output
    result = CliRunner().invoke(app, ["sniff", "--json", str(good), str(bad)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report[0]["codec"] == "opus" and report[0]["duration"] is None
    assert "unrecognised audio" in report[1]["error"]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_start_up_imports_no_heavy_module() -> None:
    probe = _python(
        "import sys, integrations.voice, connectors.cli\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('av', 'grpc', 'numpy')\n"
        "         or m.startswith(('google.cloud', 'google.api_core'))]\n"
        "print(heavy)\n"
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_missing_voice_extra_gives_the_install_hint(
    tmp_path: Path, audio: dict[str, AudioFixture]
) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(audio["wav_16k_mono"].data)
    probe = _python(
        "import sys\n"
        "sys.modules['av'] = None  # as if PyAV were not installed\n"
        "import os; os.environ['Connector_GoogleSpeech_API_KEY_SECRET'] = '{}'\n"
        "from typer.testing import CliRunner\n"
        "from connectors.cli.voice import app\n"
        f"result = CliRunner().invoke(app, ['transcribe', {str(wav)!r}])\n"
        "print(result.exit_code); print(result.output)\n"
        "from integrations.voice import MissingVoiceExtra\n"
        "try:\n"
        "    import integrations.voice.analysis\n"
        "except MissingVoiceExtra as exc:\n"
        "    print('raised', isinstance(exc, ImportError))\n"
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines[0] == "1"
    assert "the optional 'voice' extra" in probe.stdout
    assert "pip install 'connectors-layer[voice]'" in probe.stdout
    assert lines[-1] == "raised True"
