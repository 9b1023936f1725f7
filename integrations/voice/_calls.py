"""One place where Google client calls happen: timeout, bounded retry, error translation.

Every RPC goes through `call()`: an explicit timeout, the library's own retry switched off
(``retry=None``) so that a `CallBudget` counts every request that reaches the wire, and
transient failures retried by the integrations' one engine (`integrations.retry`), with
backoff and Google's ``RetryInfo`` honoured, while the budget lasts. Google errors become
`integrations.errors` types (``raise ... from exc``):

    UNAUTHENTICATED, PERMISSION_DENIED, credential refresh failure -> AuthenticationFailed
    NOT_FOUND                                                      -> NotFound
    INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE            -> InvalidRequest
    RESOURCE_EXHAUSTED (RetryInfo honoured)                        -> RateLimited
    UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, others      -> ServiceUnavailable
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from integrations.errors import (
    AuthenticationFailed,
    IntegrationError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
)
from integrations.retry import ExponentialFloor, Retryable, RetryPolicy
from integrations.voice._optional import missing_extra

try:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_extra(_exc) from _exc

__all__ = ["CallBudget", "call", "translate_error"]

T = TypeVar("T")

_TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
)


@dataclass
class CallBudget:
    """How many RPCs one logical request may make (retries and recoveries included)."""

    limit: int = 3
    used: int = 0

    @property
    def left(self) -> int:
        return self.limit - self.used


def _retry_after(exc: Exception) -> float | None:
    for detail in getattr(exc, "details", None) or ():
        delay = getattr(detail, "retry_delay", None)
        if delay is not None and hasattr(delay, "seconds"):
            return float(delay.seconds + delay.nanos / 1e9)
    return None


def _too_large(exc: Exception) -> bool:
    """gRPC reports an oversized message as RESOURCE_EXHAUSTED; it is not a quota."""
    return "larger than max" in str(exc)


def translate_error(exc: Exception, what: str) -> IntegrationError:
    """The `integrations.errors` type for a Google client exception; the message keeps Google's."""
    message = getattr(exc, "message", None) or str(exc)
    text = f"{what}: {message}"
    if isinstance(exc, gexc.Unauthenticated | gexc.PermissionDenied | auth_exc.GoogleAuthError):
        return AuthenticationFailed(text)
    if isinstance(exc, gexc.NotFound):
        return NotFound(text)
    if isinstance(exc, gexc.InvalidArgument | gexc.FailedPrecondition | gexc.OutOfRange):
        return InvalidRequest(text)
    if isinstance(exc, gexc.ResourceExhausted):
        if _too_large(exc):
            return InvalidRequest(text)
        return RateLimited(text, retry_after=_retry_after(exc))
    return ServiceUnavailable(text)


@dataclass(frozen=True)
class RetryInfoDelay:
    """The delay a RESOURCE_EXHAUSTED error's ``google.rpc.RetryInfo`` asks for."""

    def wait_seconds(self, signal: Any, attempt: int, now: float) -> float | None:
        """The RetryInfo delay of the failed call's exception, if it carries one."""
        return _retry_after(signal) if isinstance(signal, gexc.ResourceExhausted) else None


def call(
    method: Callable[..., T],
    request: Any,
    *,
    what: str,
    budget: CallBudget,
    timeout: float,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call a Google client method within `budget`, retrying transient failures.

    Raises:
        IntegrationError: the translated error of the last attempt.
    """
    if budget.left <= 0:
        raise ServiceUnavailable(f"{what}: call budget of {budget.limit} used up")
    policy = RetryPolicy(
        strategies=(RetryInfoDelay(), ExponentialFloor(base=backoff, maximum=math.inf)),
        total_cap=math.inf,  # the budget bounds the calls, the deadline each call
        jitter=0.0,
        sleep=sleep,
    )

    def attempt() -> T:
        budget.used += 1
        try:
            return method(request=request, timeout=timeout, retry=None)
        except (gexc.GoogleAPICallError, gexc.RetryError, auth_exc.GoogleAuthError) as exc:
            error = translate_error(exc, what)
            error.__cause__ = exc
            if isinstance(exc, _TRANSIENT) and not _too_large(exc):
                raise Retryable(error, exc) from exc
            raise error from exc

    return policy.run(attempt, max_attempts=budget.left)
