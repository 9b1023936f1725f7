"""Translation v3 and Text-to-Speech with the real clients against the fake."""

from __future__ import annotations

import grpc
import pytest

from integrations import errors
from integrations.voice.analysis import analyse
from integrations.voice.google import GoogleVoice
from integrations.voice.headers import sniff
from integrations.voice.testing.audio import count_words, decode_mono
from integrations.voice.testing.google import TTS_LIMIT, FakeGoogle


def test_translate_detects_the_source(voice: GoogleVoice, fake: FakeGoogle) -> None:
    result = voice.translate("Hallo Welt, das ist ein Test.", "en")
    assert result.text == "Hello World, this is a Test."
    assert result.detected_language == result.source_language == "de"
    ((_, request),) = fake.requests
    assert request.mime_type == "text/plain"
    assert request.parent == "projects/test-project/locations/global"


def test_translate_with_a_source_reports_no_detection(voice: GoogleVoice, fake: FakeGoogle) -> None:
    result = voice.translate("it's a test & more", "de", "en")
    assert result.text == "it's ein test & more"  # plain text: no entities
    assert result.detected_language is None and result.source_language == "en"


def test_entities_that_come_back_anyway_are_unescaped(voice: GoogleVoice, fake: FakeGoogle) -> None:
    fake.leak_entities = True
    assert voice.translate("it's a test", "de", "en").text == "it's ein test"
    ((_, request),) = fake.requests
    assert request.mime_type == "text/plain"


def test_empty_text_is_not_sent(voice: GoogleVoice, fake: FakeGoogle) -> None:
    assert voice.translate("  ", "de").text == ""
    assert fake.count() == 0


def test_translation_errors(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with pytest.raises(errors.InvalidRequest, match="Target language is invalid"):
        voice.translate("hello", "tlh")
    wrong_project = GoogleVoice(channel=voice._channel, project_id="someone-else")
    with pytest.raises(errors.AuthenticationFailed, match="denied"):
        wrong_project.translate("hello", "de")
    no_project = GoogleVoice(channel=voice._channel)
    with pytest.raises(errors.InvalidRequest, match="project id"):
        no_project.translate("hello", "de")


def test_languages_named_in_the_display_language(voice: GoogleVoice) -> None:
    names = {lang.code: lang.name for lang in voice.languages("de")}
    assert names["en"] == "Englisch" and names["fr"] == "Französisch"
    assert all(lang.name is None for lang in voice.languages(None))


def test_voices_filtered_by_language_and_cached(voice: GoogleVoice, fake: FakeGoogle) -> None:
    german = voice.voices("de-DE")
    assert {v.name for v in german} == {
        "de-DE-Standard-A",
        "de-DE-Standard-B",
        "de-DE-Neural2-C",
        "de-DE-Wavenet-B",
    }
    assert {v.gender for v in german} == {"FEMALE", "MALE"}
    voice.voices("de-DE")
    assert fake.count("TextToSpeech/ListVoices") == 1
    assert {v.language_codes[0] for v in voice.voices("en")} == {"en-US", "en-GB"}


@pytest.mark.parametrize(
    ("name", "gender", "expected"),
    [
        ("de-DE-Standard-B", None, "de-DE-Standard-B"),
        (None, "MALE", "de-DE-Wavenet-B"),
        (None, None, "de-DE-Neural2-C"),
    ],
)
def test_speak_picks_the_voice(
    voice: GoogleVoice, fake: FakeGoogle, name: str | None, gender: str | None, expected: str
) -> None:
    result = voice.text_to_speech("Hallo Welt.", "de-DE", name, gender)
    assert result.voice == expected
    assert sniff(result.audio).format == "mp3"
    ((_, request),) = [r for r in fake.requests if r[0] == "TextToSpeech/SynthesizeSpeech"]
    assert request.voice.name == expected


def test_speak_without_a_fitting_voice(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with pytest.raises(errors.InvalidRequest, match="available: de-DE-Standard-A"):
        voice.text_to_speech("Hallo", "de-DE", voice="de-DE-Nope")
    with pytest.raises(errors.InvalidRequest, match="no default voice"):
        voice.text_to_speech("Hallo", "de-DE", strict=True)
    strict = GoogleVoice(channel=voice._channel, strict_voice=True)
    with pytest.raises(errors.InvalidRequest, match="no default voice"):
        strict.text_to_speech("Hallo", "de-DE")
    with pytest.raises(errors.InvalidRequest, match="unknown encoding"):
        voice.text_to_speech("Hallo", "de-DE", encoding="WMA")
    assert fake.count("TextToSpeech/SynthesizeSpeech") == 0


def test_long_text_is_split_by_bytes_and_encoded_once(voice: GoogleVoice, fake: FakeGoogle) -> None:
    sentence = "Größenüberschreitungsprüfungsgrüße für Übergrößenäußerungen. "
    text = sentence * 90  # 5,580 characters, 6,480 bytes
    assert len(text.encode()) > TTS_LIMIT
    result = voice.text_to_speech(text, "de-DE", encoding="OGG_OPUS")
    synth = [r for k, r in fake.requests if k == "TextToSpeech/SynthesizeSpeech"]
    assert result.chunks == len(synth) == 2
    assert all(len(r.input.text.encode()) <= TTS_LIMIT for r in synth)
    assert all(r.audio_config.audio_encoding == 1 for r in synth)  # LINEAR16 per chunk
    info = sniff(result.audio)
    assert (info.format, info.codec) == ("ogg", "opus")  # one stream, one header
    assert count_words(decode_mono(result.audio), 16000) == len(text.split())
    assert analyse(result.audio).duration == pytest.approx(
        sum(0.2 + len(r.input.text.split()) * 0.27 - 0.12 for r in synth), abs=0.1
    )


def test_fake_refuses_text_over_5000_bytes(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with pytest.raises(errors.InvalidRequest, match="longer than the limit of 5000 bytes"):
        voice._synthesize("ä" * 2501, {"language_code": "de-DE"}, {"audio_encoding": "MP3"})


def test_spoken_text_transcribes_back(voice: GoogleVoice) -> None:
    spoken = voice.text_to_speech("Das ist ein Test.", "de-DE", encoding="LINEAR16")
    assert sniff(spoken.audio).codec == "pcm_s16le"
    assert voice.speech_to_text(spoken.audio, "de-DE").text == "hallo welt das ist"


def test_tts_rate_limit_is_typed(voice: GoogleVoice, fake: FakeGoogle) -> None:
    fake.fail_next(
        "TextToSpeech/ListVoices",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "quota",
        times=3,
        retry_after=4,
    )
    with pytest.raises(errors.RateLimited) as info:
        voice.voices("fr-FR")
    assert info.value.retry_after == 4
