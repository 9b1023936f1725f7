"""speech_to_text with the real Speech clients against the validating fake."""

from __future__ import annotations

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud import speech_v1, speech_v1p1beta1
from google.cloud.speech_v1.services.speech.transports import SpeechGrpcTransport

from integrations import errors
from integrations.voice.google import GoogleVoice
from integrations.voice.testing.audio import AudioFixture, encode, fixtures, speech_like
from integrations.voice.testing.google import BAD_ENCODING, FakeGoogle

# Speech takes mono audio of an accepted encoding as it is; the rest is converted first.
ACCEPTED = [
    n for n, fx in fixtures().items() if fx.valid and fx.words and fx.accepted and fx.channels == 1
]
CONVERTED = [
    n for n, fx in fixtures().items() if fx.valid and (not fx.accepted or fx.channels != 1)
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_formats_succeed_on_the_first_call(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture], name: str
) -> None:
    result = voice.speech_to_text(audio[name].data, "de-DE")
    assert result.text == "hallo welt das ist ein"  # one word per voiced burst, 5 bursts
    assert result.calls == fake.recognize_calls == 1
    assert result.language_code == "de-DE"
    assert result.confidence == pytest.approx(0.92)
    assert result.duration == pytest.approx(2.9, abs=0.03)
    assert [a.error for a in result.attempts] == [None]


@pytest.mark.parametrize("name", CONVERTED)
def test_formats_speech_does_not_take_are_converted_before_the_call(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture], name: str
) -> None:
    result = voice.speech_to_text(audio[name].data, "en-US")
    assert result.text == "hello world this is a"
    assert result.calls == fake.recognize_calls == 1
    assert result.config is not None
    assert result.config["encoding"] == "LINEAR16"
    assert result.config["sample_rate_hertz"] == 16000


def test_config_sent_for_each_format(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    sent = {}
    for name in ACCEPTED:
        fake.reset()
        voice.speech_to_text(audio[name].data, "de-DE")
        ((key, request),) = fake.requests
        config = request.config
        sent[name] = (
            key,
            type(config).AudioEncoding(config.encoding).name,
            config.sample_rate_hertz,
            config.audio_channel_count,
            config.model,
        )
    assert sent == {
        "wav_16k_mono": ("Speech/Recognize", "LINEAR16", 16000, 0, "latest_long"),
        "flac": ("Speech/Recognize", "FLAC", 16000, 0, "latest_long"),
        "mp3": ("SpeechBeta/Recognize", "MP3", 44100, 0, "latest_long"),
        "ogg_opus": ("Speech/Recognize", "OGG_OPUS", 48000, 0, "latest_long"),
        "webm_opus": ("Speech/Recognize", "WEBM_OPUS", 48000, 0, "latest_long"),
    }


def test_silence_makes_no_call(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    result = voice.speech_to_text(audio["silence"].data, "de-DE")
    assert result.is_silent and result.text == "" and result.calls == 0
    assert fake.count() == 0


@pytest.mark.parametrize("name", ["truncated_wav", "truncated_webm", "random_bytes"])
def test_unusable_audio_fails_before_any_call(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture], name: str
) -> None:
    with pytest.raises(errors.UnsupportedAudio):
        voice.speech_to_text(audio[name].data, "de-DE")
    assert fake.count() == 0


def test_headerless_pcm_needs_and_uses_an_explicit_rate(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    pcm = (speech_like(3, 8000) * 32767).astype("<i2").tobytes()
    with pytest.raises(errors.UnsupportedAudio, match="needs its sample rate"):
        voice.speech_to_text(pcm, "de-DE")
    result = voice.speech_to_text(pcm, "de-DE", sample_rate=8000)
    assert result.text == "hallo welt das"
    assert result.config == {
        "encoding": "LINEAR16",
        "language_code": "de-DE",
        "sample_rate_hertz": 8000,
        "model": "phone_call",
    }


def test_audio_over_a_minute_is_recognised_in_chunks_and_joined(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    long = encode(speech_like(130, 16000), 16000, container="flac", codec="flac")  # ~72 s
    result = voice.speech_to_text(long, "en-US")
    assert result.duration > 60
    assert result.chunks == 2 == result.calls == fake.recognize_calls
    assert len(result.text.split()) == 130  # no word lost or doubled at the seam
    for _, request in fake.requests:
        assert len(request.audio.content) / 2 / 16000 <= 60


def test_more_than_ten_megabytes_under_a_minute_is_converted(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    wav = encode(speech_like(100, 48000), 48000, container="wav", codec="pcm_s16le", channels=2)
    assert len(wav) > 10 * 1024 * 1024
    result = voice.speech_to_text(wav, "en-US")
    assert result.calls == 1
    assert result.config is not None and result.config["sample_rate_hertz"] == 16000
    assert len(result.text.split()) == 100


def test_encoding_rejection_converts_once_and_succeeds(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    fake.fail_next("Speech/Recognize", grpc.StatusCode.INVALID_ARGUMENT, BAD_ENCODING)
    result = voice.speech_to_text(audio["webm_opus"].data, "de-DE")
    assert result.calls == 2 == fake.recognize_calls
    assert [a.config["encoding"] for a in result.attempts] == ["WEBM_OPUS", "LINEAR16"]
    assert result.attempts[0].error is not None and "bad encoding" in result.attempts[0].error
    assert result.text == "hallo welt das ist ein"


def test_model_rejection_moves_along_the_chain(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    # The fake, like Google, has no latest_long for Swiss German.
    result = voice.speech_to_text(audio["flac"].data, "gsw-CH")
    assert [a.config["model"] for a in result.attempts] == ["latest_long", "latest_short"]
    assert result.calls == 2 and result.text


def test_a_model_the_caller_chose_is_not_silently_replaced(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    with pytest.raises(errors.InvalidRequest, match='model "latest_long"'):
        voice.speech_to_text(audio["flac"].data, "gsw-CH", model="latest_long")
    with pytest.raises(errors.InvalidRequest, match='model "nonsense"'):
        voice.speech_to_text(audio["flac"].data, "de-DE", model="nonsense")
    assert fake.recognize_calls == 2  # one call each, no fallback


def test_stereo_with_speech_on_one_channel_is_down_mixed(
    voice: GoogleVoice, fake: FakeGoogle, raw_speech: speech_v1.SpeechClient
) -> None:
    right_only = encode(
        speech_like(4, 16000), 16000, container="wav", codec="pcm_s16le", channels=2,
        balance=(0.0, 1.0),
    )  # fmt: skip
    # As Google does without per-channel recognition, the fake hears the first channel only:
    sent_as_is = raw_speech.recognize(
        config={"language_code": "en-US", "audio_channel_count": 2},
        audio={"content": right_only},
    )
    assert list(sent_as_is.results) == []
    fake.reset()
    result = voice.speech_to_text(right_only, "en-US")
    assert result.text == "hello world this is" and result.calls == 1
    assert result.config is not None and "audio_channel_count" not in result.config


def test_never_more_than_three_calls(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    fake.unsupported_models["xx-XX"] = {"latest_long", "latest_short", "default"}
    try:
        with pytest.raises(errors.InvalidRequest, match='model "default"'):
            voice.speech_to_text(audio["flac"].data, "xx-XX")
    finally:
        del fake.unsupported_models["xx-XX"]
    assert fake.recognize_calls == 3


def test_transient_failure_is_retried_within_the_budget(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    fake.fail_next("Speech/Recognize", grpc.StatusCode.UNAVAILABLE, "try again")
    assert voice.speech_to_text(audio["flac"].data, "de-DE").calls == 2
    fake.reset()
    fake.fail_next("Speech/Recognize", grpc.StatusCode.UNAVAILABLE, "down", times=5)
    with pytest.raises(errors.ServiceUnavailable, match="down"):
        voice.speech_to_text(audio["flac"].data, "de-DE")
    assert fake.recognize_calls == 3


def test_google_errors_arrive_typed(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    fake.fail_next(
        "Speech/Recognize", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota", times=3, retry_after=1.5
    )
    with pytest.raises(errors.RateLimited) as limited:
        voice.speech_to_text(audio["flac"].data, "de-DE")
    assert limited.value.retry_after == 1.5
    fake.fail_next("Speech/Recognize", grpc.StatusCode.UNAUTHENTICATED, "bad token")
    with pytest.raises(errors.AuthenticationFailed, match="bad token"):
        voice.speech_to_text(audio["flac"].data, "de-DE")


def test_alternative_languages_are_sent(
    voice: GoogleVoice, fake: FakeGoogle, audio: dict[str, AudioFixture]
) -> None:
    voice.speech_to_text(audio["flac"].data, "de-DE", ["en-US", "fr-FR"], model="default")
    ((_, request),) = fake.requests
    assert list(request.config.alternative_language_codes) == ["en-US", "fr-FR"]
    assert request.config.model == "default"


# --------------------------------------------------------------- the fake validates like Google


@pytest.fixture
def raw_speech(fake: FakeGoogle):  # type: ignore[no-untyped-def]
    channel = fake.channel()
    yield speech_v1.SpeechClient(transport=SpeechGrpcTransport(channel=channel))
    channel.close()


def _reject(client: speech_v1.SpeechClient, content: bytes, **config: object) -> str:
    with pytest.raises(gexc.InvalidArgument) as info:
        client.recognize(config={"language_code": "de-DE", **config}, audio={"content": content})
    return str(info.value.message)


def test_fake_rejects_what_google_rejects(
    raw_speech: speech_v1.SpeechClient, audio: dict[str, AudioFixture]
) -> None:
    wav44 = audio["wav_44k_stereo"].data
    assert "match the value in the WAV header ( 44100)" in _reject(
        raw_speech, wav44, sample_rate_hertz=16000, audio_channel_count=2
    )
    assert "Must use single channel (mono) audio, but WAV header indicates 2 channels" in (
        _reject(raw_speech, wav44)
    )
    assert "must be one of 8000, 12000, 16000, 24000, or 48000" in _reject(
        raw_speech, audio["ogg_opus"].data, encoding="OGG_OPUS", sample_rate_hertz=44100
    )
    assert (
        _reject(raw_speech, audio["ogg_opus"].data, encoding="WEBM_OPUS", sample_rate_hertz=48000)
        == BAD_ENCODING
    )
    assert (
        _reject(raw_speech, audio["m4a_aac"].data, encoding="LINEAR16", sample_rate_hertz=16000)
        == BAD_ENCODING
    )
    assert "only supported in v1p1beta1" in _reject(
        raw_speech, audio["mp3"].data, encoding="MP3", sample_rate_hertz=44100
    )
    long = encode(speech_like(120, 8000), 8000, container="wav", codec="pcm_s16le")
    assert "Sync input too long" in _reject(raw_speech, long)
    assert 'model "nonsense"' in _reject(raw_speech, audio["flac"].data, model="nonsense")


def test_fake_beta_checks_the_mp3_rate(fake: FakeGoogle, audio: dict[str, AudioFixture]) -> None:
    from google.cloud.speech_v1p1beta1.services.speech.transports import (
        SpeechGrpcTransport as BetaTransport,
    )

    channel = fake.channel()
    beta = speech_v1p1beta1.SpeechClient(transport=BetaTransport(channel=channel))
    with pytest.raises(gexc.InvalidArgument, match="MP3 file"):
        beta.recognize(
            config={"language_code": "de-DE", "encoding": "MP3", "sample_rate_hertz": 16000},
            audio={"content": audio["mp3"].data},
        )
    channel.close()
