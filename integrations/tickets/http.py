"""HTTP plumbing shared by the ticket connectors: HTTP wait signals and error translation.

A `HttpSession` wraps one ``httpx.Client``. Retries go through the integrations' one
engine, `integrations.retry.RetryPolicy`; this module adds the HTTP signals its strategies
read from a response (``Retry-After``, a rate-limit reset header).

Errors (see `integrations.tickets.errors`) are raised from the status code:
401/403 -> AuthenticationFailed, 404 -> NotFound, 400/409/422 -> RequestRejected,
429 after the budget -> RateLimited, 503/timeouts after the budget and other 5xx ->
ServiceUnavailable. 400/401/403/404/409/422 are never retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from integrations.retry import ExponentialFloor, Retryable, RetryPolicy, WaitStrategy
from integrations.tickets.errors import (
    AuthenticationFailed,
    IntegrationError,
    NotFound,
    RateLimited,
    RequestRejected,
    ServiceUnavailable,
)

__all__ = [
    "HTTP_STRATEGIES",
    "ExponentialFloor",
    "HttpSession",
    "ResetHeader",
    "RetryAfterHeader",
    "RetryPolicy",
    "WaitStrategy",
    "http_retry_policy",
    "parse_iso_reset",
    "parse_unix_reset",
    "rate_limit_policy",
]

RETRY_STATUSES = frozenset({429, 503})


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


#: what an HTTP service may ask for: ``Retry-After``, else an exponential floor
HTTP_STRATEGIES: tuple[WaitStrategy, ...] = (RetryAfterHeader(), ExponentialFloor())


def http_retry_policy(**overrides: Any) -> RetryPolicy:
    """A policy that waits what ``Retry-After`` asks, else an exponential floor."""
    return RetryPolicy(strategies=overrides.pop("strategies", HTTP_STRATEGIES), **overrides)


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
    if not isinstance(body.get("errors") or {}, dict):  # ClickUp/Jira never; keep it safe
        body = {**body, "errors": {}}
    messages = [str(m) for m in body.get("errorMessages") or []]
    if body.get("err"):  # ClickUp: {"err": "...", "ECODE": "..."}
        messages.append(f"{body['err']} ({body.get('ECODE', '?')})")
    errors = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
    return messages, errors


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Translate an error status into the typed error; return quietly on success."""
    if response.status_code >= 400:
        raise status_error(response, what)


def status_error(response: httpx.Response, what: str) -> IntegrationError:
    """The typed error for an error status (4xx, 5xx)."""
    status = response.status_code
    messages, errors = _error_details(response)
    detail = (
        "; ".join(messages + [f"{k}: {v}" for k, v in errors.items()]) or response.reason_phrase
    )
    text = f"{what}: HTTP {status}: {detail}"
    if status in (401, 403):
        return AuthenticationFailed(text)
    if status == 404:
        return NotFound(text)
    if status == 429:
        retry_after = RetryAfterHeader().wait_seconds(response, 0, 0.0)
        return RateLimited(text, retry_after=retry_after)
    if 400 <= status < 500:
        try:
            body = response.json()
        except ValueError:
            body = None
        return RequestRejected(
            text, status_code=status, error_messages=messages, errors=errors, body=body
        )
    return ServiceUnavailable(text)


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
        self.retry = retry if retry is not None else http_retry_policy()

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
        what = f"{method} {path}"

        def attempt() -> httpx.Response:
            try:
                response = self.client.request(
                    method, url, params=params, json=json, headers=self.headers
                )
            except (httpx.ConnectTimeout, httpx.ReadTimeout) as exc:
                error = ServiceUnavailable(f"{what}: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                # a read timeout may come after the server acted: only repeat what is safe
                if idempotent or isinstance(exc, httpx.ConnectTimeout):
                    raise Retryable(error) from exc
                raise error from exc
            except httpx.TransportError as exc:
                raise ServiceUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
            if response.status_code in RETRY_STATUSES:
                raise Retryable(status_error(response, what), response)
            raise_for_status(response, what)
            return response

        return self.retry.run(attempt)

    def close(self) -> None:
        """Close the underlying client."""
        self.client.close()
