"""interpret_stream over streaming_recognize, and the WebSocket endpoint wrapping it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from integrations import errors
from integrations.voice.google import GoogleVoice
from integrations.voice.interface import VoiceInterface
from integrations.voice.realtime import interpret_stream
from integrations.voice.results import InterpretEvent
from integrations.voice.testing.audio import encode, speech_like
from integrations.voice.testing.google import FakeGoogle
from integrations.voice.websocket import PATH, realtime_app

WORDS = 12
PCM = (speech_like(WORDS, 16000) * 32767).astype("<i2").tobytes()  # 6.75 s


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


def _run(voice: GoogleVoice, data: bytes, size: int = 3000, **options: Any) -> list[InterpretEvent]:
    async def collect() -> list[InterpretEvent]:
        stream = interpret_stream(voice, _chunks(data, size), "de-DE", "en-US", **options)
        return [event async for event in stream]

    return asyncio.run(asyncio.wait_for(collect(), timeout=30))


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
    assert all(e.translation for e in events)
    assert fake.stream_audio_bytes == len(PCM)
    ((_, first),) = [r for r in fake.requests if r[0] == "Speech/StreamingRecognize"]
    config = first.streaming_config
    assert config.interim_results and config.config.sample_rate_hertz == 16000


def test_reconnects_before_the_limit_without_losing_audio(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    fake.stream_limit_seconds = 3.0  # the fake cuts a connection off after 3 s of audio
    events = _run(voice, PCM, sample_rate=16000, stream_limit=2.5, switch_window=1.0)
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
    events = _run(voice, pcm, sample_rate=16000, stream_limit=290)
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
    assert all(e.translation is None for e in events if e.kind == "interim")
    assert fake.count("Translation/TranslateText") == sum(e.kind == "final" for e in events)


# ---------------------------------------------------------------------------- WebSocket


class _Socket:
    """Drives an ASGI app as a WebSocket client would."""

    def __init__(self, incoming: list[dict[str, Any]]) -> None:
        self.incoming = incoming
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        await asyncio.sleep(0)
        return self.incoming.pop(0) if self.incoming else {"type": "websocket.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def _socket_session(
    voice: GoogleVoice, query: bytes, messages: list[dict[str, Any]], path: str = PATH
) -> list[dict[str, Any]]:
    app = realtime_app(VoiceInterface(voice))
    socket = _Socket([{"type": "websocket.connect"}, *messages])
    scope = {"type": "websocket", "path": path, "query_string": query}
    asyncio.run(asyncio.wait_for(app(scope, socket.receive, socket.send), timeout=30))
    return socket.sent


def test_websocket_endpoint(voice: GoogleVoice, fake: FakeGoogle) -> None:
    audio = [
        {"type": "websocket.receive", "bytes": PCM[i : i + 6400]} for i in range(0, len(PCM), 6400)
    ]
    sent = _socket_session(
        voice,
        b"from=de-DE&to=en-US&rate=16000",
        [*audio, {"type": "websocket.receive", "text": '{"type": "stop"}'}],
    )
    assert sent[0] == {"type": "websocket.accept"}
    assert sent[-1] == {"type": "websocket.close", "code": 1000}
    payloads = [json.loads(m["text"]) for m in sent if m["type"] == "websocket.send"]
    assert payloads[-1] == {"type": "done"}
    finals = [p for p in payloads if p["type"] == "final"]
    assert sum(len(p["transcript"].split()) for p in finals) == WORDS
    assert finals[-1]["translation"].startswith("hello world")


def test_websocket_reports_errors_and_rejects_bad_requests(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    sent = _socket_session(
        voice, b"from=de-DE&to=en-US", [{"type": "websocket.receive", "bytes": b"\x00\x01" * 5000}]
    )
    payloads = [json.loads(m["text"]) for m in sent if m["type"] == "websocket.send"]
    assert payloads[-1]["type"] == "error" and payloads[-1]["error_type"] == "UnsupportedAudio"
    assert sent[-1] == {"type": "websocket.close", "code": 1011}
    assert _socket_session(voice, b"from=de-DE", []) == [{"type": "websocket.close", "code": 4400}]
    assert _socket_session(voice, b"from=de-DE&to=en", [], path="/elsewhere") == [
        {"type": "websocket.close", "code": 4404}
    ]
