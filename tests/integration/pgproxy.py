"""A TCP proxy in front of PostgreSQL that cuts the connection at the worst moment.

It forwards bytes both ways and reads the server's messages (PostgreSQL frontend/backend
protocol: a type byte, an int32 length, the body). When the server sends CommandComplete
(``C``) for a statement whose tag is armed (``INSERT``, ``UPDATE``, ``COMMIT``…), the
proxy closes both sockets *instead of* forwarding that reply: the server has executed
(and, in autocommit, committed) the statement, and the client never learns it.

The client must not negotiate TLS or GSS encryption (``sslmode=disable``,
``gssencmode=disable``), so the stream stays readable.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from sqlalchemy.engine import make_url

__all__ = ["CuttingProxy", "cutting_proxy"]


class CuttingProxy:
    """Forwards 127.0.0.1:`port` to the upstream server; `arm()` sets the cuts."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._tags: frozenset[str] = frozenset()
        self._every = 0
        self._left = 0
        self._matched = 0
        self.cuts = 0  # connections cut so far
        self.tags_seen: list[str] = []
        self._sockets: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def arm(self, *tags: str, times: int = 1, every: int = 1) -> None:
        """Cut on the `every`-th reply of these tags, `times` times (then pass all)."""
        with self._lock:
            self._tags, self._left, self._every, self._matched = frozenset(tags), times, every, 0

    def disarm(self) -> None:
        self.arm(times=0)

    def url(self, url: str) -> str:
        """`url` pointed at this proxy, with encryption off so the stream can be read."""
        parsed = make_url(url).set(host="127.0.0.1", port=self.port)
        parsed = parsed.update_query_dict({"sslmode": "disable", "gssencmode": "disable"})
        return parsed.render_as_string(hide_password=False)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    # --- plumbing ---------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets.update((client, server))
            pair = (client, server)
            threading.Thread(target=self._client_to_server, args=pair, daemon=True).start()
            threading.Thread(target=self._server_to_client, args=pair, daemon=True).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                server.sendall(data)
        except OSError:
            pass
        self._cut(client, server)

    def _should_cut(self, tag: str) -> bool:
        with self._lock:
            self.tags_seen.append(tag)
            if self._left <= 0 or tag.split(" ", 1)[0] not in self._tags:
                return False
            self._matched += 1
            if self._matched % self._every:
                return False
            self._left -= 1
            self.cuts += 1
            return True

    def _server_to_client(self, client: socket.socket, server: socket.socket) -> None:
        buffer = b""
        try:
            while data := server.recv(65536):
                buffer += data
                out = bytearray()
                while len(buffer) >= 5:
                    size = 1 + int.from_bytes(buffer[1:5], "big")
                    if len(buffer) < size:
                        break
                    message, buffer = buffer[:size], buffer[size:]
                    if message[:1] == b"C" and self._should_cut(message[5:-1].decode()):
                        client.sendall(out)  # everything before the reply, not the reply
                        self._cut(client, server)
                        return
                    out += message
                client.sendall(out)
        except OSError:
            pass
        self._cut(client, server)

    def _cut(self, client: socket.socket, server: socket.socket) -> None:
        for sock in (client, server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)


@contextlib.contextmanager
def cutting_proxy(url: str) -> Iterator[CuttingProxy]:
    """A proxy in front of the server of `url` (closed afterwards)."""
    parsed = make_url(url)
    proxy = CuttingProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()
