"""The fakes served on a real local socket, for the CLI (which builds its own httpx client)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from integrations.tickets.testing import (
    FakeClickUp,
    FakeJira,
    clickup_validator,
    jira_validator,
    validating,
)


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[httpx.Request], httpx.Response]], str]]:
    """Serve an ``httpx`` handler over HTTP on 127.0.0.1; returns the base URL."""
    servers: list[ThreadingHTTPServer] = []
    failures: list[BaseException] = []

    def start(handler: Callable[[httpx.Request], httpx.Response]) -> str:
        class Adapter(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = httpx.Request(
                    self.command,
                    f"http://{self.headers['Host']}{self.path}",
                    headers=dict(self.headers.items()),
                    content=self.rfile.read(length),
                )
                try:
                    response = handler(request)
                except BaseException as exc:  # reported by the fixture, not swallowed
                    failures.append(exc)
                    response = httpx.Response(500, json={"err": repr(exc)})
                body = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Adapter)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    if failures:
        raise failures[0]


@pytest.fixture
def jira_url(serve) -> tuple[FakeJira, str]:
    fake = FakeJira()
    return fake, serve(validating(fake, jira_validator()))


@pytest.fixture
def clickup_url(serve) -> tuple[FakeClickUp, str]:
    fake = FakeClickUp()
    return fake, serve(validating(fake, clickup_validator())) + "/api/v2"
