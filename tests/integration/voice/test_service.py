"""The voice service's HTTP routes, served by uvicorn on a real socket, against the fake."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import grpc
import httpx
import pytest
from starlette.requests import HTTPConnection

from integrations.errors import AuthenticationFailed
from integrations.voice import sniff
from integrations.voice.google import GoogleVoice
from integrations.voice.interface import VoiceInterface
from integrations.voice.server import running
from integrations.voice.service import VoiceServiceSettings, voice_app
from integrations.voice.testing import FakeGoogle, speech_pcm, speech_wav
from repositories import AccessDenied, Context

STT = "/voice-google/speech-to-text"


@contextlib.contextmanager
def _client(app: object) -> Iterator[httpx.Client]:
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
def client(voice: GoogleVoice) -> Iterator[httpx.Client]:
    settings = VoiceServiceSettings(max_audio_bytes=300_000, max_json_bytes=2_000)
    with _client(voice_app(VoiceInterface(voice), settings=settings)) as client:
        yield client


def _error(response: object, status: int, error_type: str) -> str:
    assert getattr(response, "status_code", None) == status, getattr(response, "text", None)
    body = response.json()  # type: ignore[attr-defined]
    assert body["success"] is False and body["error_type"] == error_type, body
    return str(body["error"])


def test_speech_to_text_multipart_and_raw(client: httpx.Client, fake: FakeGoogle) -> None:
    wav = speech_wav(3)
    files = {"audio": ("clip.wav", wav, "audio/wav")}
    form = {"language": "en-US", "alternatives": "de-DE,fr-FR"}
    answer = client.post(STT, files=files, data=form)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["success"], body["text"], body["language"]) == (True, "hello world this", "en-US")
    ((_, request),) = fake.requests
    assert list(request.config.alternative_language_codes) == ["de-DE", "fr-FR"]
    raw = client.post(STT, content=wav, params={"language": "de-DE", "model": "latest_short"})
    assert raw.json()["text"] == "hallo welt das"
    assert fake.requests[-1][1].config.model == "latest_short"


def test_speech_to_text_raw_pcm_needs_its_rate(client: httpx.Client, fake: FakeGoogle) -> None:
    pcm = speech_pcm(2, 8000)
    hint = _error(client.post(STT, content=pcm), 415, "UnsupportedAudio")
    assert "needs its sample rate" in hint
    answer = client.post(STT, content=pcm, params={"sample_rate": "8000"})
    assert answer.status_code == 200 and answer.json()["text"] == "hallo welt"
    assert "8000 to 48000" in _error(
        client.post(STT, content=pcm, params={"sample_rate": "0"}), 400, "BadRequest"
    )


def test_speech_to_text_errors_are_json_with_status(client: httpx.Client, fake: FakeGoogle) -> None:
    assert "no audio" in _error(client.post(STT, content=b""), 400, "BadRequest")
    _error(client.post(STT, content=b"not audio at all"), 415, "UnsupportedAudio")
    missing = client.post(STT, files={"other": ("x", b"1")}, data={"language": "en-US"})
    assert "'audio'" in _error(missing, 400, "BadRequest")
    wav = speech_wav(2)
    fake.fail_next("Speech/Recognize", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota", times=3,
                   retry_after=7)  # fmt: skip
    limited = client.post(STT, content=wav)
    _error(limited, 429, "RateLimited")
    assert limited.headers["retry-after"] == "7"
    fake.fail_next("Speech/Recognize", grpc.StatusCode.UNAUTHENTICATED, "bad key")
    assert "bad key" in _error(client.post(STT, content=wav), 502, "AuthenticationFailed")
    fake.fail_next("Speech/Recognize", grpc.StatusCode.UNAVAILABLE, "down", times=3)
    _error(client.post(STT, content=wav), 503, "ServiceUnavailable")


def test_bodies_over_the_limits_are_refused(client: httpx.Client, fake: FakeGoogle) -> None:
    big = speech_wav(40)  # > 300,000 bytes
    assert len(big) > 300_000
    assert "300000 bytes" in _error(client.post(STT, content=big), 413, "RequestTooLarge")

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    _error(client.post(STT, content=streamed()), 413, "RequestTooLarge")
    _error(client.post(STT, files={"audio": ("a.wav", big)}), 413, "RequestTooLarge")
    text = {"text": "hallo " * 1000, "to": "en"}
    _error(client.post("/voice-google/translate", json=text), 413, "RequestTooLarge")
    assert fake.count() == 0


def test_translate(client: httpx.Client, fake: FakeGoogle) -> None:
    answer = client.post("/voice-google/translate", json={"text": "Hallo Welt", "to": "en"})
    assert answer.status_code == 200
    assert answer.json()["translated_text"] == "Hello World"
    assert answer.json()["detected_language"] == "de"
    form = client.post("/voice-google/translate", data={"text": "hello", "target": "de",
                                                       "source": "en"})  # fmt: skip
    assert form.json()["translated_text"] == "hallo"
    problem = _error(client.post("/voice-google/translate", json={"text": "x"}), 400, "BadRequest")
    assert "to" in problem
    _error(client.post("/voice-google/translate", content=b"{nope"), 400, "BadRequest")
    _error(client.post("/voice-google/translate", json=["text"]), 400, "BadRequest")
    bad_target = client.post("/voice-google/translate", json={"text": "x", "to": "xx"})
    assert "Target language is invalid" in _error(bad_target, 400, "InvalidRequest")


def test_text_to_speech_returns_audio_with_its_type(client: httpx.Client, fake: FakeGoogle) -> None:
    answer = client.post(
        "/voice-google/text-to-speech", json={"text": "Hallo Welt", "language": "de-DE"}
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg"
    assert answer.headers["x-voice"] == "de-DE-Neural2-C"
    assert sniff(answer.content).codec == "mp3"
    wav = client.post(
        "/voice-google/text-to-speech",
        json={"text": "hello", "language": "en-US", "encoding": "LINEAR16", "gender": "MALE"},
    )
    assert wav.headers["content-type"] == "audio/wav" and sniff(wav.content).format == "wav"
    unknown = client.post(
        "/voice-google/text-to-speech", json={"text": "x", "language": "de-DE", "voice": "nope"}
    )
    assert "available" in _error(unknown, 400, "InvalidRequest")


def test_languages_and_voices(client: httpx.Client, fake: FakeGoogle) -> None:
    languages = client.get("/voice-google/languages", params={"display": "de"}).json()
    assert {"code": "en", "name": "Englisch", "source": True, "target": True} in (
        languages["languages"]
    )
    voices = client.get("/voice-google/voices", params={"language": "fr-FR"}).json()
    assert [v["name"] for v in voices["voices"]] == ["fr-FR-Standard-A"]
    assert client.get("/voice-google/voices", params={"language": "xx-XX"}).json()["voices"] == []


def test_unknown_routes_and_methods_answer_json(client: httpx.Client) -> None:
    _error(client.get("/voice-google/nothing"), 404, "NotFound")
    _error(client.get(STT), 405, "MethodNotAllowed")


def test_the_page_and_its_assets(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'src="static/interpreter.js"' in page.text
    script = client.get("/static/interpreter.js")
    assert script.status_code == 200 and "MediaRecorder" in script.text
    assert "javascript" in script.headers["content-type"]
    assert client.get("/static/interpreter.css").status_code == 200
    _error(client.get("/static/../service.py"), 404, "NotFound")


def test_the_authentication_hook(voice: GoogleVoice, fake: FakeGoogle) -> None:
    seen: list[object] = []

    async def hook(connection: HTTPConnection) -> Context | None:
        token = connection.headers.get("authorization")
        if token == "Bearer ann":
            return Context(user_id="ann", mandate_id="acme", privilege="user")
        if token == "Bearer blocked":
            raise AccessDenied("ann's mandate has no voice features")
        if token == "Bearer expired":
            raise AuthenticationFailed("token expired")
        return None

    app = voice_app(VoiceInterface(voice), authenticate=hook)

    async def remember(connection: HTTPConnection) -> Context | None:
        context = await hook(connection)
        seen.append(context)
        return context

    with _client(app) as client:
        languages = "/voice-google/languages"
        _error(client.get(languages), 401, "Unauthenticated")
        expired = client.get(languages, headers={"Authorization": "Bearer expired"})
        assert "expired" in _error(expired, 401, "Unauthenticated")
        blocked = client.get(languages, headers={"Authorization": "Bearer blocked"})
        assert "no voice features" in _error(blocked, 403, "Forbidden")
        assert client.get(languages, headers={"Authorization": "Bearer ann"}).status_code == 200
        assert client.get("/").status_code == 200  # the page itself is public
    assert fake.count("Translation/GetSupportedLanguages") == 1
    with _client(voice_app(VoiceInterface(voice), authenticate=remember)) as client:
        client.get("/voice-google/voices", headers={"Authorization": "Bearer ann"})
    assert seen == [Context(user_id="ann", mandate_id="acme", privilege="user")]
