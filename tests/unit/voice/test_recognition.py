"""How audio is sent to Speech: plans from headers, model chain, rejection triage."""

from __future__ import annotations

import pytest

from integrations.voice import recognition as rec
from integrations.voice.headers import AudioInfo, sniff
from integrations.voice.testing import google as fake_google
from integrations.voice.testing.audio import AudioFixture


@pytest.mark.parametrize(
    ("name", "encoding", "rate", "channels", "api", "convert"),
    [
        ("wav_16k_mono", "LINEAR16", 16000, 1, "v1", False),
        ("wav_44k_stereo", "LINEAR16", 16000, 1, "v1", True),
        ("flac", "FLAC", 16000, 1, "v1", False),
        ("mp3", "MP3", 44100, 1, "v1p1beta1", False),
        ("ogg_opus", "OGG_OPUS", 48000, 1, "v1", False),
        ("webm_opus", "WEBM_OPUS", 48000, 1, "v1", False),
        ("ogg_vorbis", "LINEAR16", 16000, 1, "v1", True),
        ("m4a_aac", "LINEAR16", 16000, 1, "v1", True),
    ],
)
def test_plan_follows_the_documented_rules(
    audio: dict[str, AudioFixture],
    name: str,
    encoding: str,
    rate: int,
    channels: int,
    api: str,
    convert: bool,
) -> None:
    plan = rec.plan_for(sniff(audio[name].data))
    assert (plan.encoding, plan.sample_rate, plan.channels, plan.api, plan.convert) == (
        encoding,
        rate,
        channels,
        api,
        convert,
    )


def test_opus_rate_outside_the_allowed_set_becomes_48k() -> None:
    info = AudioInfo("ogg", "opus", 44100, 1, speech_encoding="OGG_OPUS")
    plan = rec.plan_for(info)
    assert plan.sample_rate == 48000 and plan.sample_rate in rec.OPUS_RATES
    assert not plan.convert


@pytest.mark.parametrize(
    "info",
    [
        AudioInfo("wav", "pcm_s16le", 96000, 1, 16, speech_encoding="LINEAR16"),
        AudioInfo("wav", "pcm_s16le", 4000, 1, 16, speech_encoding="LINEAR16"),
        AudioInfo("wav", "pcm_s16le", 16000, 12, 16, speech_encoding="LINEAR16"),
        AudioInfo("wav", "pcm_s16le", 16000, 2, 16, speech_encoding="LINEAR16"),
        AudioInfo("ogg", "opus", 48000, 2, speech_encoding="OGG_OPUS"),
    ],
)
def test_rates_and_channels_google_refuses_are_converted(info: AudioInfo) -> None:
    assert rec.plan_for(info).convert


def test_headerless_pcm_needs_a_rate() -> None:
    assert rec.plan_for(None, raw_rate=8000) == rec.SendPlan(
        "LINEAR16", 8000, reason="headerless LINEAR16"
    )
    with pytest.raises(ValueError, match="raw_rate"):
        rec.plan_for(None)


def test_config_omits_what_it_must_not_say() -> None:
    plan = rec.SendPlan("FLAC", 16000)
    assert rec.config_for(plan, "de-DE", (), None) == {
        "encoding": "FLAC",
        "language_code": "de-DE",
        "sample_rate_hertz": 16000,
    }
    stereo = rec.config_for(rec.SendPlan("LINEAR16", 44100, 2), "en-US", ("de-DE",), "default")
    assert stereo["audio_channel_count"] == 2
    assert stereo["alternative_language_codes"] == ["de-DE"]
    assert stereo["model"] == "default"


@pytest.mark.parametrize(
    ("model", "rate", "chain"),
    [
        (None, 16000, ("latest_long", "latest_short", "default")),
        (None, 8000, ("phone_call", "default")),
        ("latest_short", 16000, ("latest_short",)),
        ("video", 48000, ("video",)),
        ("nonsense", 8000, ("nonsense",)),
    ],
)
def test_model_chain(model: str | None, rate: int, chain: tuple[str, ...]) -> None:
    assert rec.model_chain(model, rate) == chain


@pytest.mark.parametrize(
    ("message", "model", "kind"),
    [
        (fake_google.BAD_ENCODING, "latest_long", "audio"),
        (
            "sample_rate_hertz (16000) in RecognitionConfig must either be omitted or match the "
            "value in the WAV header ( 44100).",
            "latest_long",
            "audio",
        ),
        (
            "Must use single channel (mono) audio, but WAV header indicates 2 channels.",
            None,
            "audio",
        ),
        (
            "Invalid recognition 'config': MP3 encoding is only supported in v1p1beta1.",
            None,
            "audio",
        ),
        (
            "Invalid recognition 'config': The requested model \"latest_long\" is currently not "
            "supported for language : gsw-CH.",
            "latest_long",
            "model",
        ),
        (
            "Sync input too long. For audio longer than 1 min use LongRunningRecognize with a "
            "'uri' parameter.",
            "latest_long",
            "other",
        ),
        ("Request payload size exceeds the limit: 10485760 bytes.", "default", "other"),
    ],
)
def test_classify_rejection(message: str, model: str | None, kind: str) -> None:
    assert rec.classify_rejection(message, model) == kind
