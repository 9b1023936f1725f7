"""The voice service: the original component's routes as a mountable Starlette app.

`voice_app(interface)` serves, for a host application to mount (FastAPI, Litestar and
Starlette mount it as is) or for `integrations.voice.server` to run under uvicorn:

    POST /voice-google/speech-to-text   multipart (file field ``audio``) or the raw audio
                                        body; ``language``, ``alternatives``, ``model``,
                                        ``sample_rate`` as form fields or query parameters
    POST /voice-google/translate        JSON ``{"text", "to", "from"?}``
    POST /voice-google/text-to-speech   JSON ``{"text", "language", "voice"?, "gender"?,
                                        "encoding"?}`` -> the audio, with its content type
    GET  /voice-google/languages        ``?display=en``
    GET  /voice-google/voices           ``?language=de-DE``
    WS   /ws/realtime-interpreter       see `integrations.voice.websocket`
    GET  /                              the interpreter page (``/static/…`` its assets)

Answers are the `VoiceInterface` result models as JSON. Every failure is JSON too,
``{"success": false, "error", "error_type"}``, with a status code by class: 400 invalid
request, 401/403 refused by the authentication hook, 404, 405, 413 body over the limit,
415 unsupported audio, 429 rate limited (``Retry-After``), 502 Google refused our
credentials or failed, 503 Google unavailable.

Authentication is the host application's: `authenticate(connection)` gets each request
(and WebSocket) and returns the caller's `repositories.Context`, or refuses by returning
None or raising `AuthenticationFailed` (401) or `AccessDenied` (403). The context is in
``connection.state.context``. Without a hook every caller is anonymous.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MultiDict, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from integrations import errors
from integrations.voice.config import VoiceServiceSettings
from integrations.voice.interface import VoiceInterface, VoiceResult

if TYPE_CHECKING:
    from repositories.context import Context

__all__ = ["PAGE_DIRECTORY", "Authenticate", "VoiceServiceSettings", "authenticate", "voice_app"]

PAGE_DIRECTORY = Path(__file__).with_name("page")

Authenticate = Callable[[HTTPConnection], "Context | Awaitable[Context | None] | None"]


# --------------------------------------------------------------------------- errors


def _error_classes() -> dict[str, type[errors.IntegrationError]]:
    found: dict[str, type[errors.IntegrationError]] = {}
    pending: list[type[errors.IntegrationError]] = [errors.IntegrationError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


_STATUS: dict[type[errors.IntegrationError], int] = {
    errors.UnsupportedAudio: 415,
    errors.InvalidRequest: 400,
    errors.NotFound: 404,
    errors.RateLimited: 429,
    errors.AuthenticationFailed: 502,  # Google refused *our* credentials: not the caller's
    errors.ServiceUnavailable: 503,
    errors.IntegrationError: 502,
}
_HTTP_ERRORS = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestTooLarge",
    415: "UnsupportedMediaType",
}


def status_for(error_type: str | None) -> int:
    """The HTTP status of a failed result, from its ``error_type`` (an error class name)."""
    cls = _error_classes().get(error_type or "", errors.IntegrationError)
    return next(_STATUS[base] for base in cls.__mro__ if base in _STATUS)


def _failure(status: int, message: str, error_type: str | None = None) -> JSONResponse:
    body = {
        "success": False,
        "error": message,
        "error_type": error_type or _HTTP_ERRORS.get(status),
    }
    return JSONResponse(body, status_code=status)


def _answer(result: VoiceResult) -> JSONResponse:
    if result.success:
        return JSONResponse(result.model_dump(mode="json"))
    headers = {}
    if result.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(result.retry_after)))
    body = result.model_dump(mode="json", include={"success", "error", "error_type", "retry_after"})
    return JSONResponse(body, status_code=status_for(result.error_type), headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _failure(exc.status_code, str(exc.detail), (exc.headers or {}).get("X-Error-Type"))


# --------------------------------------------------------------------------- auth and limits


async def authenticate(hook: Authenticate | None, connection: HTTPConnection) -> None:
    """Run the host's hook; its Context goes to ``connection.state.context``.

    Raises:
        HTTPException: 401 (no context, or AuthenticationFailed) or 403 (AccessDenied).
    """
    from repositories.errors import AccessDenied

    connection.state.context = None
    if hook is None:
        return
    try:
        context = hook(connection)
        if inspect.isawaitable(context):
            context = await context
    except errors.AuthenticationFailed as exc:
        raise HTTPException(401, str(exc) or "authentication required") from exc
    except AccessDenied as exc:
        raise HTTPException(403, str(exc) or "access denied") from exc
    if context is None:
        raise HTTPException(401, "authentication required")
    connection.state.context = context


class _BodyLimit:
    """Refuse bodies over the limit (413) by Content-Length, and while they stream in."""

    def __init__(self, app: ASGIApp, settings: VoiceServiceSettings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        audio = scope["path"].endswith("/speech-to-text")
        limit = self.settings.max_audio_bytes if audio else self.settings.max_json_bytes
        message = f"request body over the limit of {limit} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await _failure(413, message)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            event = await receive()
            seen += len(event.get("body", b""))
            if seen > limit:
                raise HTTPException(413, message)
            return event

        await self.app(scope, counted, send)


# --------------------------------------------------------------------------- routes


class _TranslateBody(BaseModel):
    text: str
    target: str = Field(validation_alias=AliasChoices("to", "target"), min_length=2)
    source: str | None = Field(None, validation_alias=AliasChoices("from", "source"))


class _SpeakBody(BaseModel):
    text: str
    language: str = Field(min_length=2)
    voice: str | None = None
    gender: str | None = None
    encoding: str = "MP3"


_AUDIO_TYPES = {  # Google's LINEAR16, MULAW and ALAW output carries a WAV header
    "MP3": "audio/mpeg",
    "OGG_OPUS": "audio/ogg",
    "LINEAR16": "audio/wav",
    "MULAW": "audio/wav",
    "ALAW": "audio/wav",
    "M4A": "audio/mp4",
}


async def _json_body(request: Request, model: type[BaseModel], max_chars: int) -> Any:
    """The body (JSON, or a form) validated by `model`; 400 naming the problem."""
    try:
        if request.headers.get("content-type", "").startswith(("multipart/", "application/x-www")):
            raw: Any = dict(await request.form(max_files=0))
        else:
            raw = json.loads(await request.body() or b"null")
        value = model.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        details = exc.errors(include_url=False) if isinstance(exc, ValidationError) else None
        problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in details or [])
        raise HTTPException(400, f"invalid body: {problem or exc}") from exc
    if len(getattr(value, "text", "")) > max_chars:
        raise HTTPException(400, f"text over the limit of {max_chars} characters")
    return value


def _rate(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 8000 <= int(value) <= 48000:
        raise HTTPException(400, f"sample_rate {value!r}: an integer from 8000 to 48000")
    return int(value)


class _Routes:
    def __init__(self, interface: VoiceInterface, settings: VoiceServiceSettings) -> None:
        self.interface, self.settings = interface, settings

    async def speech_to_text(self, request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=20) as form:  # closes the upload
                upload = form.get("audio") or form.get("file")
                if not isinstance(upload, UploadFile):
                    raise HTTPException(400, "multipart body without the file field 'audio'")
                audio = await upload.read()
                fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
                params: Any = MultiDict(fields)
        else:
            audio, params = await request.body(), request.query_params
        if not audio:
            raise HTTPException(400, "no audio: send the recording as the body or field 'audio'")
        alternatives = [a for v in params.getlist("alternatives") for a in str(v).split(",") if a]
        result = await run_in_threadpool(
            self.interface.speech_to_text,
            audio,
            str(params.get("language") or "de-DE"),
            tuple(alternatives),
            str(params.get("model") or "") or None,
            sample_rate=_rate(str(params.get("sample_rate") or "")),
        )
        return _answer(result)

    async def translate(self, request: Request) -> Response:
        body = await _json_body(request, _TranslateBody, self.settings.max_text_chars)
        result = await run_in_threadpool(
            self.interface.translate, body.text, body.target, body.source
        )
        return _answer(result)

    async def text_to_speech(self, request: Request) -> Response:
        body = await _json_body(request, _SpeakBody, self.settings.max_text_chars)
        result = await run_in_threadpool(
            self.interface.text_to_speech,
            body.text,
            body.language,
            body.voice,
            body.gender,
            body.encoding,
        )
        if not result.success or result.audio_content is None:
            return _answer(result)
        media = _AUDIO_TYPES.get(result.audio_format or "", "application/octet-stream")
        headers = {"X-Voice": result.voice or "", "X-Audio-Chunks": str(result.chunks)}
        return Response(result.audio_content, media_type=media, headers=headers)

    async def languages(self, request: Request) -> Response:
        display = request.query_params.get("display", "en")
        return _answer(await run_in_threadpool(self.interface.languages, display))

    async def voices(self, request: Request) -> Response:
        language = request.query_params.get("language") or None
        return _answer(await run_in_threadpool(self.interface.voices, language))


async def _page(request: Request) -> Response:
    html = (PAGE_DIRECTORY / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=_PAGE_HEADERS)


# The page needs its own scripts, the microphone, its socket and blob: audio for TTS.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
    "media-src 'self' blob:; img-src 'self' data:; frame-ancestors 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def voice_app(
    interface: VoiceInterface,
    *,
    settings: VoiceServiceSettings | None = None,
    authenticate: Authenticate | None = None,
) -> ASGIApp:
    """The voice service as an ASGI application (see the module docstring).

    Args:
        interface: the voice features (a `VoiceInterface` on `GoogleVoice`, or on
            `integrations.voice.testing.FakeGoogle` for a demo).
        settings: limits and options.
        authenticate: the host's hook returning the caller's Context (or refusing).
    """
    from integrations.voice.websocket import InterpreterSocket, unknown_socket

    settings = settings or VoiceServiceSettings()
    routes = _Routes(interface, settings)
    guarded = _Guarded(authenticate)
    socket = InterpreterSocket(interface, settings, authenticate)
    app = Starlette(
        routes=[
            Route("/", _page),
            Route("/voice-google/speech-to-text", guarded(routes.speech_to_text), methods=["POST"]),
            Route("/voice-google/translate", guarded(routes.translate), methods=["POST"]),
            Route("/voice-google/text-to-speech", guarded(routes.text_to_speech), methods=["POST"]),
            Route("/voice-google/languages", guarded(routes.languages), methods=["GET"]),
            Route("/voice-google/voices", guarded(routes.voices), methods=["GET"]),
            WebSocketRoute("/ws/realtime-interpreter", socket.handle),
            Mount("/static", StaticFiles(directory=PAGE_DIRECTORY), name="static"),
            WebSocketRoute("/{path:path}", unknown_socket),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    return _BodyLimit(app, settings)


class _Guarded:
    """Wraps endpoints so the authentication hook runs first."""

    def __init__(self, hook: Authenticate | None) -> None:
        self.hook = hook

    def __call__(
        self, endpoint: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            await authenticate(self.hook, request)
            return await endpoint(request)

        return run
