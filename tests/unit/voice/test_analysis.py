"""analyse(), to_linear16() and the codec helpers, on generated audio."""

from __future__ import annotations

import numpy as np
import pytest

from integrations.errors import UnsupportedAudio
from integrations.voice.analysis import analyse, to_linear16
from integrations.voice.codec import decode, encode_pcm, pcm_to_wav, split_linear16
from integrations.voice.headers import sniff
from integrations.voice.testing.audio import (
    AudioFixture,
    count_words,
    encode,
    fixtures,
    speech_like,
)

SPEECH = [name for name, fx in fixtures().items() if fx.valid and fx.words]


@pytest.mark.parametrize("name", SPEECH)
def test_exact_duration_and_levels(audio: dict[str, AudioFixture], name: str) -> None:
    result = analyse(audio[name].data)
    assert result.duration == pytest.approx(2.9, abs=0.03)  # codec padding is trimmed
    assert -6.0 < result.peak_dbfs < -3.0  # speech_like peaks near 0.6 of full scale
    assert result.rms_dbfs < result.peak_dbfs
    assert 0.3 < result.speech_ratio < 0.7  # 1.5 s voiced out of 2.9 s
    assert not result.is_silent


def test_webm_duration_comes_from_decoding(audio: dict[str, AudioFixture]) -> None:
    data = audio["webm_opus"].data
    assert sniff(data).duration is None
    assert analyse(data).duration == pytest.approx(2.9, abs=0.01)


def test_silence_and_room_noise_are_silent(audio: dict[str, AudioFixture]) -> None:
    digital = analyse(audio["silence"].data)
    assert digital.is_silent and digital.peak_dbfs == -120.0 and digital.speech_ratio == 0.0
    noise = np.random.default_rng(1).normal(0, 0.001, 16000).astype(np.float32)
    room = analyse(encode(noise, 16000, container="wav", codec="pcm_s16le"))
    assert room.is_silent and -80 < room.rms_dbfs < -50


def test_peak_of_a_known_sine() -> None:
    t = np.arange(16000) / 16000
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    result = analyse(encode(sine, 16000, container="flac", codec="flac"))
    assert result.peak_dbfs == pytest.approx(-6.02, abs=0.05)
    assert result.rms_dbfs == pytest.approx(-9.03, abs=0.05)
    assert result.speech_ratio == 1.0


@pytest.mark.parametrize("name", SPEECH)
def test_to_linear16_is_16k_mono_and_keeps_the_words(
    audio: dict[str, AudioFixture], name: str
) -> None:
    pcm = to_linear16(audio[name].data)
    samples = np.frombuffer(pcm, "<i2")
    assert len(samples) == pytest.approx(2.9 * 16000, abs=500)
    assert count_words(samples / 32768, 16000) == audio[name].words


def test_to_linear16_other_rate_and_raw_input() -> None:
    pcm = (speech_like(2, 8000) * 32767).astype("<i2").tobytes()
    assert len(to_linear16(pcm, 16000, raw_rate=8000)) == pytest.approx(2 * len(pcm), abs=64)
    assert analyse(pcm, raw_rate=8000).duration == pytest.approx(len(pcm) / 2 / 8000)


@pytest.mark.parametrize("name", ["truncated_wav", "truncated_webm", "random_bytes"])
def test_undecodable_audio(audio: dict[str, AudioFixture], name: str) -> None:
    with pytest.raises(UnsupportedAudio, match="cannot decode"):
        analyse(audio[name].data)


def test_odd_raw_pcm_is_rejected() -> None:
    with pytest.raises(UnsupportedAudio, match="odd length"):
        decode(b"\x00\x01\x02", raw_rate=16000)


@pytest.mark.parametrize(
    ("encoding", "fmt", "codec"),
    [
        ("MP3", "mp3", "mp3"),
        ("OGG_OPUS", "ogg", "opus"),
        ("MULAW", "wav", "pcm_mulaw"),
        ("ALAW", "wav", "pcm_alaw"),
        ("M4A", "mp4", "aac"),
        ("LINEAR16", "wav", "pcm_s16le"),
    ],
)
def test_encode_pcm_produces_each_tts_encoding(encoding: str, fmt: str, codec: str) -> None:
    pcm = (speech_like(3, 24000) * 32767).astype("<i2").tobytes()
    data = encode_pcm(pcm, 24000, encoding)
    info = sniff(data)
    assert (info.format, info.codec) == (fmt, codec)
    decoded = decode(data)
    assert count_words(decoded.samples, decoded.sample_rate) == 3


def test_encode_pcm_raw_and_unknown() -> None:
    assert encode_pcm(b"\x01\x00", 16000, "PCM") == b"\x01\x00"
    with pytest.raises(UnsupportedAudio, match="cannot encode to FLAC"):
        encode_pcm(b"\x01\x00", 16000, "FLAC")


def test_split_linear16_cuts_at_pauses_and_loses_nothing() -> None:
    pcm = (speech_like(40, 16000) * 32767).astype("<i2").tobytes()  # ~22 s
    pieces = split_linear16(pcm, 16000, max_seconds=5.0, search_seconds=2.0)
    assert b"".join(pieces) == pcm
    assert all(len(p) / 2 / 16000 <= 5.0 for p in pieces)
    assert sum(count_words(np.frombuffer(p, "<i2") / 32768, 16000) for p in pieces) == 40


def test_pcm_to_wav_header() -> None:
    info = sniff(pcm_to_wav(b"\x00\x00" * 160, 16000))
    assert (info.codec, info.sample_rate, info.channels, info.duration) == (
        "pcm_s16le",
        16000,
        1,
        0.01,
    )
