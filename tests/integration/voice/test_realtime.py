"""interpret_stream over streaming_recognize: pacing, reconnects, keep-alive, translation."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from integrations import errors
from integrations.voice.google import GoogleVoice
from integrations.voice.realtime import StreamOptions, interpret_stream
from integrations.voice.results import InterpretEvent
from integrations.voice.testing.audio import encode, speech_like, speech_pcm
from integrations.voice.testing.google import FakeGoogle

WORDS = 12
PCM = speech_pcm(WORDS)  # 6.75 s at 16 kHz
# Twenty times real time, and a fake that accepts that: the pacing code runs, tests stay fast.
FAST = StreamOptions(pace=20.0)


@pytest.fixture(autouse=True)
def _fast_clock(fake: FakeGoogle) -> None:
    fake.max_stream_speed = 30.0


async def _chunks(
    data: bytes, size: int, pause: tuple[int, float] | None = None
) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        if pause is not None and start <= pause[0] < start + size:
            await asyncio.sleep(pause[1])
        yield data[start : start + size]
        await asyncio.sleep(0)


def _run(
    voice: GoogleVoice,
    data: bytes,
    size: int = 3000,
    pause: tuple[int, float] | None = None,
    **options: Any,
) -> list[InterpretEvent]:
    options.setdefault("options", FAST)

    async def collect() -> list[InterpretEvent]:
        chunks = _chunks(data, size, pause)
        stream = interpret_stream(voice, chunks, "de-DE", "en-US", **options)
        return [event async for event in stream]

    return asyncio.run(asyncio.wait_for(collect(), timeout=60))


def _final_words(events: list[InterpretEvent]) -> int:
    return sum(len(e.transcript.split()) for e in events if e.kind == "final")


def test_interim_and_final_results_with_translations(voice: GoogleVoice, fake: FakeGoogle) -> None:
    events = _run(voice, PCM, sample_rate=16000)
    assert fake.count("Speech/StreamingRecognize") == 1
    kinds = [e.kind for e in events]
    assert "interim" in kinds and kinds[-1] == "final"
    final = events[-1]
    assert final.transcript == "hallo welt das ist ein test von der sprach verbindung hallo welt"
    assert final.translation == "hello world this is a test of the voice connector hello world"
    assert all(e.translation for e in events if e.kind == "final")
    assert any(e.translation for e in events if e.kind == "interim")
    assert fake.stream_audio_bytes == len(PCM)
    ((_, first),) = [r for r in fake.requests if r[0] == "Speech/StreamingRecognize"]
    config = first.streaming_config
    assert config.interim_results and config.config.sample_rate_hertz == 16000


def test_reconnects_before_the_limit_without_losing_audio(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    fake.stream_limit_seconds = 3.0  # the fake cuts a connection off after 3 s of audio
    options = StreamOptions(pace=20.0, stream_limit=2.5, switch_window=1.0)
    events = _run(voice, PCM, sample_rate=16000, options=options)
    connections = fake.count("Speech/StreamingRecognize")
    assert connections >= 3
    assert fake.stream_audio_bytes == len(PCM)  # every byte sent exactly once
    assert _final_words(events) == WORDS  # and every word finalised once
    assert len({e.stream for e in events if e.kind == "final"}) >= 3
    offsets = [e.offset for e in events if e.kind == "final"]
    assert offsets == sorted(offsets) and offsets[-1] == pytest.approx(6.55, abs=0.2)


def test_a_broken_connection_resends_what_was_not_finalised(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    fake.break_next_stream(after_seconds=2.0)
    events = _run(voice, PCM, sample_rate=16000)
    assert fake.count("Speech/StreamingRecognize") == 2
    assert fake.stream_audio_bytes > len(PCM)  # the unfinalised audio went twice
    assert _final_words(events) == WORDS  # but no word was lost or finalised twice


def test_overrunning_googles_limit_is_recovered(voice: GoogleVoice, fake: FakeGoogle) -> None:
    # Utterances (pauses of 0.7 s) are finalised as they end; only the audio after the last
    # final result is sent again when the fake cuts the connection at 4 s.
    pcm = (speech_like(8, 16000, gap_seconds=0.7) * 32767).astype("<i2").tobytes()
    fake.stream_limit_seconds = 4.0
    events = _run(voice, pcm, sample_rate=16000)
    cut_offs = fake.count("Speech/StreamingRecognize") - 1
    assert cut_offs >= 1
    # each cut-off resends at most the audio since the last utterance (< 1.5 s here)
    assert len(pcm) < fake.stream_audio_bytes < len(pcm) + cut_offs * 1.5 * 32000
    assert _final_words(events) == 8


def test_browser_webm_chunks_are_decoded_as_they_arrive(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    webm = encode(speech_like(6, 48000), 48000, container="webm", codec="libopus", live=True)
    events = _run(voice, webm, size=700)  # small chunks: the header spans several
    assert _final_words(events) == 6
    assert events[-1].translation == "hello world this is a test"


def test_unreadable_stream_raises(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with pytest.raises(errors.UnsupportedAudio, match="cannot decode"):
        _run(voice, b"\x00\x01" * 5000)


def test_errors_reach_the_caller_typed(voice: GoogleVoice, fake: FakeGoogle) -> None:
    fake.fail_next("Speech/StreamingRecognize", grpc.StatusCode.PERMISSION_DENIED, "nope")
    with pytest.raises(errors.AuthenticationFailed, match="nope"):
        _run(voice, PCM, sample_rate=16000)
    wrong_project = GoogleVoice(channel=voice._channel, project_id="someone-else")
    with pytest.raises(errors.AuthenticationFailed, match="denied"):
        _run(wrong_project, PCM, sample_rate=16000)


def test_interim_translation_can_be_switched_off(voice: GoogleVoice, fake: FakeGoogle) -> None:
    events = _run(voice, PCM, sample_rate=16000, translate_interim=False)
    assert any(e.kind == "interim" for e in events)
    assert all(e.translation is None for e in events if e.kind == "interim")
    assert fake.count("Translation/TranslateText") == sum(e.kind == "final" for e in events)


def test_interims_are_translated_at_most_every_interval_and_only_when_grown(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    # 30 words without a pause long enough to end an utterance: one long interim that grows.
    pcm = speech_pcm(30, gap_seconds=0.3)
    events = _run(voice, pcm, sample_rate=16000, interim_interval=4.0)
    interims = [e for e in events if e.kind == "interim"]
    translated = [e for e in interims if e.translation is not None]
    assert len(interims) >= 12 and 1 <= len(translated) <= len(pcm) / 32000 / 4.0 + 1
    offsets = [e.offset for e in translated]
    assert all(later - earlier >= 4.0 for earlier, later in itertools.pairwise(offsets))
    words = [len(e.transcript.split()) for e in translated]
    assert words == sorted(set(words))  # each translated interim had more words
    finals = sum(e.kind == "final" for e in events)
    assert fake.count("Translation/TranslateText") == finals + len(translated)


def test_audio_is_paced_at_real_time(voice: GoogleVoice, fake: FakeGoogle) -> None:
    """Google ends a stream fed much faster than real time; the feeder keeps the pace."""
    fake.max_stream_speed = 1.3
    pcm = speech_pcm(4)  # 2.55 s, all of it available at once
    events = _run(voice, pcm, sample_rate=16000, options=StreamOptions())
    assert fake.count("Speech/StreamingRecognize") == 1
    assert _final_words(events) == 4
    fake.reset()
    with pytest.raises(errors.InvalidRequest, match="too fast"):
        _run(voice, speech_pcm(8), sample_rate=16000, options=StreamOptions(pace=None))
    assert fake.count("Speech/StreamingRecognize") == 3  # retried, then reported


def test_a_pausing_client_is_kept_alive_with_silence(voice: GoogleVoice, fake: FakeGoogle) -> None:
    fake.audio_timeout_seconds = 2.0  # Google: about 10 s
    pcm = speech_pcm(6, gap_seconds=0.7)
    middle = len(pcm) // 2 // 3200 * 3200
    pause = (middle, 3.0)
    options = StreamOptions(pace=20.0, keepalive=0.3)
    events = _run(voice, pcm, sample_rate=16000, pause=pause, options=options)
    assert fake.count("Speech/StreamingRecognize") == 1
    assert _final_words(events) == 6
    assert fake.stream_audio_bytes > len(pcm)  # the silence sent during the pause
    fake.reset()
    no_keepalive = StreamOptions(pace=20.0, keepalive=60.0)
    events = _run(voice, pcm, sample_rate=16000, pause=pause, options=no_keepalive)
    assert fake.count("Speech/StreamingRecognize") >= 2  # timed out, reconnected
    assert _final_words(events) == 6  # and no word lost for it


def test_an_utterance_longer_than_the_stream_replays_a_bounded_tail(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    """Google may end a stream early: an utterance it never finalised is not resent whole."""
    pcm = speech_pcm(20)  # 10.9 s with no pause long enough to finalise
    fake.stream_limit_seconds = 3.0
    options = StreamOptions(pace=20.0, max_replay=1.0)
    events = _run(voice, pcm, sample_rate=16000, options=options)
    cut_offs = fake.count("Speech/StreamingRecognize") - 1
    assert cut_offs >= 3
    assert fake.stream_audio_bytes <= len(pcm) + cut_offs * 1.0 * 32000
    finals = [e for e in events if e.kind == "final"]
    assert len(finals) >= cut_offs  # the interim heard before each cut-off was kept
    assert abs(_final_words(events) - 20) <= cut_offs  # a word cut at a seam may count twice


def test_no_audio_ends_cleanly_without_a_connection(voice: GoogleVoice, fake: FakeGoogle) -> None:
    assert _run(voice, b"") == []
    assert _run(voice, b"", sample_rate=16000) == []
    assert fake.count() == 0


def test_a_rate_speech_cannot_take_is_refused(voice: GoogleVoice, fake: FakeGoogle) -> None:
    for rate in (0, 4000, 96000):
        with pytest.raises(errors.InvalidRequest, match="8000-48000"):
            _run(voice, PCM, sample_rate=rate)
    assert fake.count() == 0
