"""VoiceInterface: structured results built from the typed errors."""

from __future__ import annotations

import grpc
import pytest

from integrations.voice.google import GoogleVoice
from integrations.voice.interface import VoiceInterface
from integrations.voice.testing.audio import AudioFixture
from integrations.voice.testing.google import FakeGoogle


@pytest.fixture
def interface(voice: GoogleVoice) -> VoiceInterface:
    return VoiceInterface(voice)


def test_speech_to_translated_text(
    interface: VoiceInterface, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    result = interface.speech_to_translated_text(audio["webm_opus"].data, "de-DE", "en-US")
    assert result.success and result.error is None
    assert result.original_text == "hallo welt das ist ein"
    assert result.translated_text == "hello world this is a"
    assert result.source_language == "de-DE"
    assert result.confidence == pytest.approx(0.92)
    translate = [r for k, r in fake.requests if k == "Translation/TranslateText"]
    assert [(r.source_language_code, r.target_language_code) for r in translate] == [("de", "en")]


def test_silence_is_reported_without_calls(
    interface: VoiceInterface, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    result = interface.speech_to_translated_text(audio["silence"].data, "de-DE", "en-US")
    assert result.success and result.is_silent and result.translated_text == ""
    assert fake.count() == 0


def test_errors_become_structured_failures(
    interface: VoiceInterface, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    bad = interface.speech_to_translated_text(audio["random_bytes"].data, "de-DE", "en")
    assert not bad.success and bad.error_type == "UnsupportedAudio"
    assert bad.error is not None and "unrecognised audio" in bad.error
    fake.fail_next(
        "Speech/Recognize", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota", times=3, retry_after=30
    )
    limited = interface.speech_to_text(audio["flac"].data, "de-DE")
    assert (limited.success, limited.error_type, limited.retry_after) == (
        False,
        "RateLimited",
        30.0,
    )
    no_voice = interface.text_to_speech("Hallo", "de-DE", voice="x")
    assert not no_voice.success and no_voice.error_type == "InvalidRequest"


def test_the_other_results(interface: VoiceInterface) -> None:
    spoken = interface.text_to_speech("Hallo Welt.", "de-DE", gender="FEMALE")
    assert spoken.success and spoken.audio_format == "MP3" and spoken.audio_content
    assert spoken.voice == "de-DE-Neural2-C"
    assert interface.translate("Hallo", "en").translated_text == "Hello"
    assert [v.name for v in interface.voices("fr-FR").voices] == ["fr-FR-Standard-A"]
    assert "de" in [lang.code for lang in interface.languages("en").languages]
    stt = interface.speech_to_text(spoken.audio_content or b"", "de-DE")
    assert stt.success and stt.text == "hallo welt" and stt.calls == 1


def test_connector_is_built_lazily_once() -> None:
    built: list[int] = []

    def factory() -> object:
        built.append(1)
        return object()

    interface = VoiceInterface(factory=factory)
    assert built == []
    assert interface.google is interface.google
    assert built == [1]


def test_missing_credentials_are_a_structured_failure() -> None:
    result = VoiceInterface().translate("Hallo", "en")
    assert not result.success and result.error_type == "AuthenticationFailed"
