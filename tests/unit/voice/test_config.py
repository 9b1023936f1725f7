"""The voice service's settings come from config.ini and the environment like every other."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.secrets import ConfigError
from connectors.settings import load_settings
from integrations.voice.config import VoiceServiceSettings


def test_voice_service_settings_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.ini"
    config.write_text(
        "VOICE_SERVICE_ALLOWED_ORIGINS = https://app.example.com/, https://admin.example.com\n"
        "VOICE_SERVICE_MAX_SESSIONS = 3\n"
    )
    monkeypatch.setenv("VOICE_SERVICE_MAX_SESSION_SECONDS", "90")
    settings = load_settings(config).section(VoiceServiceSettings)
    assert settings.allowed_origins == ("https://app.example.com", "https://admin.example.com")
    assert (settings.max_sessions, settings.max_session_seconds) == (3, 90.0)
    assert settings.stream_limit == 290.0 and settings.interim_interval == 2.0  # defaults


def test_a_bad_value_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.ini"
    config.write_text("")
    monkeypatch.setenv("VOICE_SERVICE_STREAM_LIMIT", "400")  # Google ends streams at ~305 s
    with pytest.raises(ConfigError, match=r"(?i)voice_service_stream_limit"):
        load_settings(config).section(VoiceServiceSettings)
