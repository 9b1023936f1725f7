"""Run the voice service under uvicorn: for real (Google credentials) or as a demo.

``serve(interface)`` serves `voice_app(interface)`; ``serve(demo=True)`` serves it against
`integrations.voice.testing.FakeGoogle`, the local stand-in the tests use, so the page can
be tried without credentials: the fake hears each voiced burst as one word of a small
lexicon ("hello world this is a test…"), so speech yields words, not what was said.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from integrations.errors import InvalidRequest
from integrations.voice.interface import VoiceInterface
from integrations.voice.service import Authenticate, VoiceServiceSettings, voice_app

__all__ = ["demo_interface", "running", "serve"]

# The sans-I/O implementation: uvicorn's other websockets one uses its deprecated legacy API.
WS_PROTOCOL = "websockets-sansio"

log = logging.getLogger(__name__)


@contextlib.contextmanager
def demo_interface() -> Iterator[VoiceInterface]:
    """A `VoiceInterface` on a fresh `FakeGoogle` that checks pace and pauses like Google."""
    from integrations.voice.testing import FakeGoogle

    with FakeGoogle(max_stream_speed=1.5, audio_timeout_seconds=10.0) as fake:
        yield VoiceInterface(fake.voice(timeout=30))


def serve(
    interface: VoiceInterface | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: bool = False,
    settings: VoiceServiceSettings | None = None,
    authenticate: Authenticate | None = None,
    log_level: str = "info",
    **uvicorn_options: Any,
) -> None:
    """Serve the voice routes, the interpreter WebSocket and its page until interrupted.

    Args:
        interface: the voice features; required unless `demo`.
        host, port: where to listen (the page is at ``http://host:port/``).
        demo: serve against the shipped Google fake instead of `interface`.
        settings: limits and options of the service.
        authenticate: the host application's hook (see `integrations.voice.service`).
        log_level: uvicorn's log level.
        uvicorn_options: passed to ``uvicorn.run`` (``ssl_certfile``, ``root_path``…).

    Raises:
        InvalidRequest: neither an interface nor `demo`.
    """
    import uvicorn

    settings = settings or VoiceServiceSettings()
    with contextlib.ExitStack() as stack:
        if demo:
            interface = stack.enter_context(demo_interface())
            log.warning("demo: answers come from a local fake Google, not from Google")
        if interface is None:
            raise InvalidRequest("serve() needs a VoiceInterface, or demo=True")
        app = voice_app(interface, settings=settings, authenticate=authenticate)
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            ws=WS_PROTOCOL,
            ws_max_size=settings.max_frame_bytes + 1024,
            **uvicorn_options,
        )


@contextlib.contextmanager
def running(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread (tests, benchmarks); yields its base URL.

    Port 0 takes a free one. The server stops when the block ends.
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws=WS_PROTOCOL)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="voice-service", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the voice service did not start on {host}:{port}")
            thread.join(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
