"""HTTP plumbing shared by the ticket connectors: retry strategies and error translation.

A :class:`HttpSession` wraps one ``httpx.Client``. Retries are decided by a
:class:`RetryPolicy` built from small one-method wait strategies (each returns the seconds
one signal asks for, or ``None``); the policy waits the largest of them plus jitter and gives
up once a total budget is spent. Every waiting goes through an injectable ``sleep`` so tests
and benchmarks never really sleep unless they want to.

Errors (see :mod:`integrations.tickets.errors`) are raised from the status code:
401/403 -> AuthenticationFailed, 404 -> NotFound, 400/409/422 -> RequestRejected,
429 after the budget -> RateLimited, 503/timeouts after the budget and other 5xx ->
ServiceUnavailable. 400/401/403/404/409/422 are never retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from integrations.tickets.errors import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    RequestRejected,
    ServiceUnavailable,
)

__all__ = [
    "ExponentialFloor",
    "HttpSession",
    "ResetHeader",
    "RetryAfterHeader",
    "RetryPolicy",
    "WaitStrategy",
    "parse_iso_reset",
    "parse_unix_reset",
    "rate_limit_policy",
]

RETRY_STATUSES = frozenset({429, 503})


class WaitStrategy(Protocol):
    """One signal telling how long to wait before the next attempt."""

    def wait_seconds(
        self, response: httpx.Response | None, attempt: int, now: float
    ) -> float | None:
        """Seconds this signal asks for, or None when it has nothing to say."""
        ...


@dataclass(frozen=True)
class RetryAfterHeader:
    """``Retry-After`` in delta-seconds (RFC 9110; HTTP-dates are not used by Jira/ClickUp)."""

    header: str = "Retry-After"

    def wait_seconds(
        self, response: httpx.Response | None, attempt: int, now: float
    ) -> float | None:
        """The header's seconds, or None when absent or malformed."""
        if response is None or self.header not in response.headers:
            return None
        try:
            return max(0.0, float(response.headers[self.header]))
        except ValueError:
            return None


def parse_iso_reset(value: str) -> float:
    """Jira's ``X-RateLimit-Reset``: an ISO 8601 instant, returned as epoch seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_unix_reset(value: str) -> float:
    """ClickUp's ``X-RateLimit-Reset``: Unix seconds."""
    return float(value)


@dataclass(frozen=True)
class ResetHeader:
    """A header naming the instant the rate-limit window resets."""

    header: str
    parse: Callable[[str], float]

    def wait_seconds(
        self, response: httpx.Response | None, attempt: int, now: float
    ) -> float | None:
        """Seconds until the reset instant (0 when already past), None when absent/malformed."""
        if response is None or response.status_code != 429 or self.header not in response.headers:
            return None
        try:
            return max(0.0, self.parse(response.headers[self.header]) - now)
        except ValueError:
            return None


@dataclass(frozen=True)
class ExponentialFloor:
    """``base * factor ** attempt`` seconds, capped at ``maximum``."""

    base: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0

    def wait_seconds(
        self, response: httpx.Response | None, attempt: int, now: float
    ) -> float | None:
        """The exponential floor for this attempt (0-based)."""
        return min(self.maximum, self.base * self.factor**attempt)


@dataclass
class RetryPolicy:
    """When and how long to wait before retrying.

    Attributes:
        strategies: wait signals; the largest answer wins.
        max_attempts: attempts in total, the first included.
        total_cap: seconds of waiting allowed for one request; a wait that would exceed it
            ends the retries (the last error is raised).
        jitter: up to this fraction of the wait is added (never subtracted: a wait is never
            shorter than the service asked).
        sleep: how to wait (injectable).
        clock: epoch seconds now (injectable, used for reset headers).
        rng: a ``random()``-like source for the jitter.
    """

    strategies: Sequence[WaitStrategy] = (RetryAfterHeader(), ExponentialFloor())
    max_attempts: int = 6
    total_cap: float = 120.0
    jitter: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: Callable[[], float] = field(default=random.random)

    def wait_for(self, response: httpx.Response | None, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the largest signal plus jitter."""
        now = self.clock()
        waits = [
            w for s in self.strategies if (w := s.wait_seconds(response, attempt, now)) is not None
        ]
        base = max(waits, default=0.0)
        return base + base * self.jitter * self.rng()


def rate_limit_policy(
    reset_header: str, parse_reset: Callable[[str], float], **overrides: Any
) -> RetryPolicy:
    """A policy that waits the longest of ``Retry-After``, the service's reset header
    (parsed by `parse_reset` into epoch seconds) and an exponential floor."""
    strategies = (RetryAfterHeader(), ResetHeader(reset_header, parse_reset), ExponentialFloor())
    return RetryPolicy(strategies=overrides.pop("strategies", strategies), **overrides)


def _error_details(response: httpx.Response) -> tuple[list[str], dict[str, str]]:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return ([text] if text else []), {}
    if not isinstance(body, dict):
        return [str(body)], {}
    messages = [str(m) for m in body.get("errorMessages") or []]
    if body.get("err"):  # ClickUp: {"err": "...", "ECODE": "..."}
        messages.append(f"{body['err']} ({body.get('ECODE', '?')})")
    errors = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
    return messages, errors


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Translate an error status into the typed error; return quietly on success."""
    status = response.status_code
    if status < 400:
        return
    messages, errors = _error_details(response)
    detail = (
        "; ".join(messages + [f"{k}: {v}" for k, v in errors.items()]) or response.reason_phrase
    )
    text = f"{what}: HTTP {status}: {detail}"
    if status in (401, 403):
        raise AuthenticationFailed(text)
    if status == 404:
        raise NotFound(text)
    if status == 429:
        retry_after = RetryAfterHeader().wait_seconds(response, 0, 0.0)
        raise RateLimited(text, retry_after=retry_after)
    if 400 <= status < 500:
        raise RequestRejected(text, status_code=status, error_messages=messages, errors=errors)
    raise ServiceUnavailable(text)


class HttpSession:
    """One ``httpx.Client`` with a base URL, auth headers and the retry policy."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.client = client if client is not None else httpx.Client(timeout=timeout)
        self.retry = retry if retry is not None else RetryPolicy()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries; return the successful response or raise the typed error.

        Non-idempotent requests are retried only when they surely were not processed
        (429, 503, connect timeout), never after a read timeout.
        """
        url = f"{self.base_url}{path}"
        waited = 0.0
        what = f"{method} {path}"
        for attempt in range(self.retry.max_attempts):
            last_attempt = attempt == self.retry.max_attempts - 1
            try:
                response = self.client.request(
                    method, url, params=params, json=json, headers=self.headers
                )
            except (httpx.ConnectTimeout, httpx.ReadTimeout) as exc:
                retryable = idempotent or isinstance(exc, httpx.ConnectTimeout)
                wait = self.retry.wait_for(None, attempt)
                if not retryable or last_attempt or waited + wait > self.retry.total_cap:
                    raise ServiceUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
            except httpx.TransportError as exc:
                raise ServiceUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
            else:
                if response.status_code not in RETRY_STATUSES:
                    raise_for_status(response, what)
                    return response
                wait = self.retry.wait_for(response, attempt)
                if last_attempt or waited + wait > self.retry.total_cap:
                    raise_for_status(response, what)
            self.retry.sleep(wait)
            waited += wait
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def close(self) -> None:
        """Close the underlying client."""
        self.client.close()
