"""The realtime interpreter over a WebSocket: ``/ws/realtime-interpreter``.

Protocol (also in the README):

- Connect with ``?from=de-DE&to=en-US``; add ``&rate=16000`` (8000-48000) when sending
  headerless 16-bit mono PCM, otherwise send a container stream such as MediaRecorder's
  WebM/Opus (or Ogg, MP4…); ``&model=`` picks a Speech model.
- Send audio as binary messages, in order. Send the text ``{"type": "stop"}`` (or close)
  to end the input; no other text message is accepted.
- The server sends JSON text messages: ``{"type": "interim" | "final", "transcript",
  "translation", "language", "confidence", "stream", "offset"}`` as results come, then
  ``{"type": "done"}`` (with ``"reason": "session_limit"`` when the session ran out of
  time) and closes; on failure ``{"type": "error", "error", "error_type"}`` first.
- Close codes: 1000 done; 1009 audio message over the size limit; 1011 the service or the
  audio failed; 1013 too many sessions or rate limited, try again later; 4400 bad request
  (parameters, or a text message that is not ``{"type": "stop"}``); 4401 authentication
  required; 4403 origin not allowed or access denied; 4404 unknown path; 4408 session
  time limit reached (after ``done``).

The socket is accepted before it is refused, so that browsers see the close code and the
error message (a refusal during the handshake reaches a page as a bare 1006).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from integrations import errors
from integrations.voice.interface import VoiceInterface
from integrations.voice.realtime import StreamOptions
from integrations.voice.service import Authenticate, VoiceServiceSettings, authenticate

__all__ = ["PATH", "InterpreterSocket", "unknown_socket"]

PATH = "/ws/realtime-interpreter"
log = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, code: int, message: str, error_type: str) -> None:
        super().__init__(message)
        self.code, self.error_type = code, error_type


async def _close(websocket: WebSocket, payload: dict[str, Any] | None, code: int) -> None:
    """Send `payload` (if any) and close with `code`; a client already gone is no error."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        if payload is not None:
            await websocket.send_text(json.dumps(payload, ensure_ascii=False))
        if websocket.application_state != WebSocketState.DISCONNECTED:
            await websocket.close(code)


async def unknown_socket(websocket: WebSocket) -> None:
    """Any other WebSocket path: 4404 (after accepting, so that the code is seen)."""
    await websocket.accept()
    error = {"type": "error", "error": f"no WebSocket at {websocket.url.path}"}
    await _close(websocket, {**error, "error_type": "NotFound"}, 4404)


class InterpreterSocket:
    """The ASGI WebSocket endpoint running `VoiceInterface.interpret_stream` per session."""

    def __init__(
        self,
        interface: VoiceInterface,
        settings: VoiceServiceSettings,
        hook: Authenticate | None = None,
    ) -> None:
        self.interface, self.settings, self.hook = interface, settings, hook
        self.sessions = 0

    async def handle(self, websocket: WebSocket) -> None:
        """One interpreter session (the Starlette WebSocket endpoint)."""
        await websocket.accept()
        try:
            self._check_origin(websocket)
            try:
                await authenticate(self.hook, websocket)
            except HTTPException as exc:
                kind = "Unauthenticated" if exc.status_code == 401 else "Forbidden"
                raise _Refused(4400 + exc.status_code - 400, str(exc.detail), kind) from exc
            query = self._query(websocket)
            if self.sessions >= self.settings.max_sessions:
                raise _Refused(1013, "too many interpreter sessions; try again shortly", "Busy")
        except _Refused as refused:
            payload = {"type": "error", "error": str(refused), "error_type": refused.error_type}
            await _close(websocket, payload, refused.code)
            return
        self.sessions += 1
        try:
            await self._session(websocket, **query)
        finally:
            self.sessions -= 1

    def _check_origin(self, websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is None:  # not a browser: origins protect browsers' users only
            return
        allowed = self.settings.allowed_origins
        host = websocket.headers.get("host", "")
        own = {f"http://{host}", f"https://{host}"}
        if "*" in allowed or origin in own or origin in allowed:
            return
        raise _Refused(4403, f"origin {origin} may not use the interpreter", "Forbidden")

    def _query(self, websocket: WebSocket) -> dict[str, Any]:
        params = websocket.query_params
        source, target = params.get("from", ""), params.get("to", "")
        if not source or not target:
            raise _Refused(4400, "query parameters 'from' and 'to' are required", "BadRequest")
        rate = params.get("rate") or None
        if rate is not None and not (rate.isdigit() and 8000 <= int(rate) <= 48000):
            problem = f"rate {rate!r}: an integer from 8000 to 48000 (headerless PCM only)"
            raise _Refused(4400, problem, "BadRequest")
        return {
            "source": source,
            "target": target,
            "rate": int(rate) if rate else None,
            "model": params.get("model") or None,
        }

    async def _session(
        self, websocket: WebSocket, source: str, target: str, rate: int | None, model: str | None
    ) -> None:
        settings, loop = self.settings, asyncio.get_running_loop()
        inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        deadline = loop.time() + settings.max_session_seconds
        ended = {"reason": "stop"}

        async def read() -> None:  # its own task: a receive is never cancelled half-way
            while True:
                message = await websocket.receive()
                await inbox.put(message)
                if message["type"] == "websocket.disconnect":
                    return

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                try:
                    message = await asyncio.wait_for(inbox.get(), deadline - loop.time())
                except TimeoutError:
                    ended["reason"] = "session_limit"
                    return
                if message["type"] == "websocket.disconnect":
                    ended["reason"] = "disconnect"
                    return
                if message.get("bytes") is not None:
                    if len(message["bytes"]) > settings.max_frame_bytes:
                        limit = settings.max_frame_bytes
                        raise _Refused(1009, f"audio message over {limit} bytes", "TooLarge")
                    yield message["bytes"]
                elif _is_stop(message.get("text")):
                    return
                else:
                    problem = 'text messages are JSON objects: only {"type": "stop"} is known'
                    raise _Refused(4400, problem, "BadRequest")

        reader = asyncio.create_task(read())
        options = StreamOptions(stream_limit=settings.stream_limit)
        events = self.interface.interpret_stream(
            chunks(),
            source,
            target,
            sample_rate=rate,
            model=model,
            options=options,
            translate_interim=settings.translate_interim,
            interim_interval=settings.interim_interval,
        )
        try:
            async for event in events:
                payload = {"type": event.kind, **event.model_dump(exclude={"kind"})}
                await websocket.send_text(json.dumps(payload, ensure_ascii=False))
        except _Refused as refused:
            error = {"type": "error", "error": str(refused), "error_type": refused.error_type}
            await _close(websocket, error, refused.code)
            return
        except errors.IntegrationError as exc:
            code = 1013 if isinstance(exc, errors.RateLimited) else 1011
            error = {"type": "error", "error": str(exc), "error_type": type(exc).__name__}
            await _close(websocket, error, code)
            return
        except WebSocketDisconnect:
            log.info("interpreter: the client left before the end")
            return
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await reader
        if ended["reason"] == "session_limit":
            await _close(websocket, {"type": "done", "reason": "session_limit"}, 4408)
        else:
            await _close(websocket, {"type": "done"}, 1000)


def _is_stop(text: str | None) -> bool:
    try:
        message = json.loads(text or "")
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "stop"
