"""The one retry/wait engine of every integration (HTTP for tickets, gRPC for voice).

A `RetryPolicy` runs an attempt until it succeeds, it fails for good, or attempts or the
waiting budget run out. An attempt asks for another try by raising `Retryable`, carrying
the typed error to raise if the policy gives up and the *signal* its wait strategies read
(an ``httpx.Response``, a Google exception...). Waiting is decided by small one-method
strategies (each returns the seconds one signal asks for, or ``None``); the policy waits
the largest of them plus jitter. Every wait goes through an injectable ``sleep`` so tests
and benchmarks never really sleep unless they want to.

Transport specifics stay with the transport: `integrations.tickets.http` reads
``Retry-After`` and rate-limit reset headers, `integrations.voice._calls` Google's
``RetryInfo``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

__all__ = ["ExponentialFloor", "RetryPolicy", "Retryable", "WaitStrategy"]

T = TypeVar("T")


class Retryable(Exception):
    """Raised by an attempt that may be tried again.

    Attributes:
        error: what the caller gets when the policy gives up (a typed integration error).
        signal: what the wait strategies read (a response, an exception, None).
    """

    def __init__(self, error: Exception, signal: Any = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.signal = signal


class WaitStrategy(Protocol):
    """One signal telling how long to wait before the next attempt."""

    def wait_seconds(self, signal: Any, attempt: int, now: float) -> float | None:
        """Seconds this signal asks for, or None when it has nothing to say."""
        ...


@dataclass(frozen=True)
class ExponentialFloor:
    """``base * factor ** attempt`` seconds, capped at ``maximum``."""

    base: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0

    def wait_seconds(self, signal: Any, attempt: int, now: float) -> float | None:
        """The exponential floor for this attempt (0-based)."""
        return min(self.maximum, self.base * self.factor**attempt)


@dataclass
class RetryPolicy:
    """When and how long to wait before retrying.

    Attributes:
        strategies: wait signals; the largest answer wins.
        max_attempts: attempts in total, the first included.
        total_cap: seconds of waiting allowed for one operation; a wait that would exceed
            it ends the retries (the last error is raised).
        jitter: up to this fraction of the wait is added (never subtracted: a wait is never
            shorter than the service asked).
        sleep: how to wait (injectable).
        clock: epoch seconds now (injectable, used for reset instants).
        rng: a ``random()``-like source for the jitter.
    """

    strategies: Sequence[WaitStrategy] = (ExponentialFloor(),)
    max_attempts: int = 6
    total_cap: float = 120.0
    jitter: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: Callable[[], float] = field(default=random.random)

    def wait_for(self, signal: Any, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the largest signal plus jitter."""
        now = self.clock()
        waits = [
            w for s in self.strategies if (w := s.wait_seconds(signal, attempt, now)) is not None
        ]
        base = max(waits, default=0.0)
        return base + base * self.jitter * self.rng()

    def run(self, attempt: Callable[[], T], max_attempts: int | None = None) -> T:
        """Call `attempt` until it returns; retry it while it raises `Retryable`.

        Args:
            attempt: one try; raises `Retryable` when another try may succeed, anything
                else to fail at once.
            max_attempts: overrides the policy's for this operation (e.g. a call budget).

        Raises:
            Exception: the last `Retryable`'s ``error`` once attempts or the waiting budget
                run out; any other exception of `attempt` as it is.
        """
        limit = self.max_attempts if max_attempts is None else max_attempts
        waited = 0.0
        for number in range(limit):
            try:
                return attempt()
            except Retryable as failure:
                wait = self.wait_for(failure.signal, number)
                if number == limit - 1 or waited + wait > self.total_cap:
                    raise failure.error from failure.error.__cause__
            self.sleep(wait)
            waited += wait
        raise ValueError(f"max_attempts must be at least 1, not {limit}")
