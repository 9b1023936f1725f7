"""A rate-limit hook shared by the fakes: answer 429 to chosen requests, measure the wait."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

__all__ = ["Throttle"]


class Throttle:
    """Answers 429 to chosen requests and measures how long the client really waited.

    ``decide(n)`` gets the running request number and returns the seconds to ask for (or
    None). The gap between a 429 and the same request's next arrival is measured on
    ``clock`` (the same clock the client sleeps on, possibly virtual). The retry of a
    throttled request is always let through (so each 429 yields exactly one measured gap).
    """

    def __init__(self, decide: Callable[[int], float | None], clock: Callable[[], float]) -> None:
        self.decide = decide
        self.clock = clock
        self.count = 0
        self.throttled = 0
        self.pending: dict[tuple[str, str, bytes], tuple[float, float]] = {}
        self.gaps: list[tuple[float, float]] = []  # (waited, asked)
        self.lock = threading.Lock()

    def check(self, request: httpx.Request) -> float | None:
        """The seconds to ask for in a 429 to this request, or None to let it through."""
        key = (request.method, str(request.url), request.content)
        with self.lock:
            self.count += 1
            now = self.clock()
            if key in self.pending:
                started, earlier = self.pending.pop(key)
                self.gaps.append((now - started, earlier))
                return None
            asked = self.decide(self.count)
            if asked is not None:
                self.throttled += 1
                self.pending[key] = (now, asked)
            return asked
