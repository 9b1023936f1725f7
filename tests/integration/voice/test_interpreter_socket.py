"""The interpreter WebSocket on a real socket (uvicorn), driven by the `websockets` client."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from starlette.requests import HTTPConnection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from integrations.voice.google import GoogleVoice
from integrations.voice.interface import VoiceInterface
from integrations.voice.server import running
from integrations.voice.service import VoiceServiceSettings, voice_app
from integrations.voice.testing import FakeGoogle, encode, speech_like, speech_pcm
from integrations.voice.websocket import PATH
from repositories import Context

PCM = speech_pcm(3)  # 1.8 s: "hallo welt das" in de-DE
STOP = json.dumps({"type": "stop"})


@contextlib.contextmanager
def _server(voice: GoogleVoice, **settings: Any) -> Iterator[str]:
    app = voice_app(VoiceInterface(voice), settings=VoiceServiceSettings(**settings))
    with running(app) as url:
        yield url.replace("http://", "ws://")


def _open(base: str, query: str, path: str = PATH, **options: Any) -> ClientConnection:
    return connect(f"{base}{path}?{query}", open_timeout=10, close_timeout=10, **options)


def _drain(socket: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """Every JSON message until the server closes, and its close code."""
    payloads = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            payloads.append(json.loads(socket.recv(timeout=30)))
    return payloads, socket.close_code


def _talk(base: str, query: str, *messages: bytes | str, **options: Any) -> tuple[list, int | None]:
    with _open(base, query, **options) as socket:
        with contextlib.suppress(ConnectionClosed):  # the server may refuse before the end
            for message in messages:
                socket.send(message)
        return _drain(socket)


def _frames(pcm: bytes, size: int = 6400) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def test_a_session_streams_finals_with_translations(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with _server(voice) as base:
        payloads, code = _talk(base, "from=de-DE&to=en-US&rate=16000", *_frames(PCM), STOP)
    assert code == 1000 and payloads[-1] == {"type": "done"}
    finals = [p for p in payloads if p["type"] == "final"]
    assert [f["transcript"] for f in finals] == ["hallo welt das"]
    assert finals[0]["translation"] == "hello world this"
    assert set(finals[0]) == {
        "type", "transcript", "translation", "language", "confidence", "stream", "offset"
    }  # fmt: skip
    assert fake.stream_audio_bytes == len(PCM)


def test_browser_webm_is_decoded(voice: GoogleVoice, fake: FakeGoogle) -> None:
    webm = encode(speech_like(2, 48000), 48000, container="webm", codec="libopus", live=True)
    with _server(voice) as base:
        payloads, code = _talk(base, "from=en-US&to=fr-FR", *_frames(webm, 900), STOP)
    assert code == 1000
    assert [p["translation"] for p in payloads if p["type"] == "final"] == ["bonjour monde"]


def test_safari_fragmented_mp4_is_decoded(voice: GoogleVoice, fake: FakeGoogle) -> None:
    """Safari's MediaRecorder records audio/mp4: AAC in a fragmented MP4, no seeking back."""
    mp4 = encode(
        speech_like(3, 48000),
        48000,
        container="mp4",
        codec="aac",
        live=True,
        container_options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
    )
    with _server(voice) as base:
        payloads, code = _talk(base, "from=de-DE&to=es-ES", *_frames(mp4, 900), STOP)
    assert code == 1000
    assert [p["translation"] for p in payloads if p["type"] == "final"] == ["hola mundo esto"]


def test_stop_before_any_audio_is_done(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with _server(voice) as base:
        assert _talk(base, "from=de-DE&to=en-US", STOP) == ([{"type": "done"}], 1000)
        assert _talk(base, "from=de-DE&to=en-US&rate=8000", STOP) == ([{"type": "done"}], 1000)
    assert fake.count() == 0


@pytest.mark.parametrize("text", ["hello", "[1, 2]", '"stop"', '{"type": "pause"}', "{}"])
def test_a_text_message_other_than_stop_is_a_bad_request(
    voice: GoogleVoice, fake: FakeGoogle, text: str
) -> None:
    with _server(voice) as base:
        payloads, code = _talk(base, "from=de-DE&to=en-US&rate=16000", PCM[:3200], text)
    assert code == 4400
    assert payloads[-1]["type"] == "error" and payloads[-1]["error_type"] == "BadRequest"
    assert '{"type": "stop"}' in payloads[-1]["error"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("from=de-DE", "'from' and 'to'"),
        ("to=en-US", "'from' and 'to'"),
        ("from=de-DE&to=en-US&rate=0", "rate '0'"),
        ("from=de-DE&to=en-US&rate=44k", "rate '44k'"),
        ("from=de-DE&to=en-US&rate=96000", "rate '96000'"),
    ],
)
def test_bad_parameters_close_4400_with_a_reason(
    voice: GoogleVoice, fake: FakeGoogle, query: str, problem: str
) -> None:
    with _server(voice) as base:
        payloads, code = _talk(base, query)
    assert code == 4400
    assert [(p["type"], p["error_type"]) for p in payloads] == [("error", "BadRequest")]
    assert problem in payloads[0]["error"]


def test_an_unknown_path_closes_4404(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with _server(voice) as base:
        payloads, code = _talk(base, "from=de-DE&to=en-US", path="/ws/elsewhere")
    assert code == 4404 and payloads[0]["error_type"] == "NotFound"


def test_origins_outside_the_allow_list_are_refused(voice: GoogleVoice, fake: FakeGoogle) -> None:
    query = "from=de-DE&to=en-US"
    with _server(voice, allowed_origins=("https://app.example.com",)) as base:
        own = base.replace("ws://", "http://")
        assert _talk(base, query, STOP, origin="https://evil.example.net") == (
            [{"type": "error", "error": "origin https://evil.example.net may not use the "
              "interpreter", "error_type": "Forbidden"}], 4403,
        )  # fmt: skip
        assert _talk(base, query, STOP, origin="https://app.example.com")[1] == 1000
        assert _talk(base, query, STOP, origin=own)[1] == 1000  # the page's own origin
        assert _talk(base, query, STOP)[1] == 1000  # no Origin: not a browser


def test_the_authentication_hook_guards_the_socket(voice: GoogleVoice, fake: FakeGoogle) -> None:
    def hook(connection: HTTPConnection) -> Context | None:
        if connection.query_params.get("token") == "ann":
            return Context(user_id="ann", mandate_id="acme", privilege="user")
        return None

    app = voice_app(VoiceInterface(voice), authenticate=hook)
    with running(app) as url:
        base = url.replace("http://", "ws://")
        payloads, code = _talk(base, "from=de-DE&to=en-US", STOP)
        assert code == 4401 and payloads[0]["error_type"] == "Unauthenticated"
        assert _talk(base, "from=de-DE&to=en-US&token=ann", STOP)[1] == 1000


def test_sessions_beyond_the_limit_are_told_to_come_back(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    with (
        _server(voice, max_sessions=1) as base,
        _open(base, "from=de-DE&to=en-US&rate=16000") as first,
    ):
        first.send(PCM[:3200])
        payloads, code = _talk(base, "from=de-DE&to=en-US", STOP)
        assert code == 1013 and payloads[0]["error_type"] == "Busy"
        first.send(STOP)
        assert _drain(first)[1] == 1000
        assert _talk(base, "from=de-DE&to=en-US", STOP)[1] == 1000  # a place is free again


def test_a_session_ends_at_its_time_limit(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with (
        _server(voice, max_session_seconds=1.0) as base,
        _open(base, "from=de-DE&to=en-US&rate=16000") as socket,
    ):
        socket.send(PCM)  # and then nothing: no stop, no close
        payloads, code = _drain(socket)
    assert code == 4408 and payloads[-1] == {"type": "done", "reason": "session_limit"}
    assert [p["transcript"] for p in payloads if p["type"] == "final"] == ["hallo welt das"]


def test_an_audio_message_over_the_limit_closes_1009(voice: GoogleVoice, fake: FakeGoogle) -> None:
    with _server(voice, max_frame_bytes=10_000) as base:
        payloads, code = _talk(base, "from=de-DE&to=en-US&rate=16000", PCM[:20_000])
    assert code == 1009 and payloads[-1]["error_type"] == "TooLarge"


def test_google_failures_reach_the_client_as_an_error(voice: GoogleVoice, fake: FakeGoogle) -> None:
    fake.fail_next("Speech/StreamingRecognize", grpc.StatusCode.PERMISSION_DENIED, "no access")
    with _server(voice) as base:
        payloads, code = _talk(base, "from=de-DE&to=en-US&rate=16000", *_frames(PCM), STOP)
    assert code == 1011
    assert payloads[-1]["type"] == "error" and payloads[-1]["error_type"] == "AuthenticationFailed"
    assert "no access" in payloads[-1]["error"]
    with _server(voice) as base:
        payloads, code = _talk(base, "from=de-DE&to=en-US", b"\x00\x01" * 5000, STOP)
    assert code == 1011 and payloads[-1]["error_type"] == "UnsupportedAudio"


def test_a_client_that_leaves_mid_session_does_not_break_the_server(
    voice: GoogleVoice, fake: FakeGoogle
) -> None:
    with _server(voice) as base:
        with _open(base, "from=de-DE&to=en-US&rate=16000") as socket:
            socket.send(PCM[:16000])
        done = threading.Event()
        with _open(base, "from=de-DE&to=en-US&rate=16000") as socket:
            for frame in _frames(PCM):
                socket.send(frame)
            socket.send(STOP)
            payloads, code = _drain(socket)
            done.set()
    assert done.is_set() and code == 1000 and payloads[-1] == {"type": "done"}
