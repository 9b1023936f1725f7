"""A bare ASGI app for the realtime interpreter at ``/ws/realtime-interpreter``.

Protocol: connect with ``?from=de-DE&to=en-US`` (``&rate=16000`` when sending headerless
16-bit PCM; otherwise a container stream such as MediaRecorder WebM). Send audio as binary
messages; send ``{"type": "stop"}`` or close to end the input. The server sends JSON text
messages ``{"type": "interim"|"final", "transcript", "translation", ...}``, then
``{"type": "done"}`` and closes (1000); on failure ``{"type": "error", "error",
"error_type"}`` and close code 1011. Mount it in any ASGI server or framework.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from integrations.errors import IntegrationError
from integrations.voice.interface import VoiceInterface

__all__ = ["PATH", "realtime_app"]

PATH = "/ws/realtime-interpreter"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def realtime_app(interface: VoiceInterface) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI application serving `interface.interpret_stream` over a WebSocket."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"not found"})
            return
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        source, target = query.get("from", [""])[0], query.get("to", [""])[0]
        rate = query.get("rate", [""])[0]
        if scope["path"] != PATH or not source or not target or (rate and not rate.isdigit()):
            await send({"type": "websocket.close", "code": 4404 if scope["path"] != PATH else 4400})
            return
        await send({"type": "websocket.accept"})

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes"):
                    yield message["bytes"]
                elif message.get("text") and json.loads(message["text"]).get("type") == "stop":
                    return

        async def reply(payload: dict[str, Any]) -> None:
            await send({"type": "websocket.send", "text": json.dumps(payload)})

        try:
            events = interface.interpret_stream(
                chunks(), source, target, sample_rate=int(rate) if rate else None
            )
            async for event in events:
                await reply({"type": event.kind, **event.model_dump(exclude={"kind"})})
        except IntegrationError as exc:
            await reply({"type": "error", "error": str(exc), "error_type": type(exc).__name__})
            await send({"type": "websocket.close", "code": 1011})
            return
        await reply({"type": "done"})
        await send({"type": "websocket.close", "code": 1000})

    return app
