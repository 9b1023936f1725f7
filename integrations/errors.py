"""Errors raised by every integration (tickets, voice), one root for callers to catch.

    IntegrationError
    ├── RateLimited(retry_after)   the service asked us to slow down (HTTP 429, RESOURCE_EXHAUSTED)
    ├── AuthenticationFailed       credentials missing, malformed or rejected (401/403)
    ├── NotFound                   the addressed resource does not exist (404, NOT_FOUND)
    ├── InvalidRequest             the service (or we, before calling) rejected the input
    │   └── UnsupportedAudio       audio bytes we cannot identify, decode or send
    └── ServiceUnavailable         transport failure, timeout or 5xx after retries

Backend errors (httpx, grpc, google.api_core) are translated at the boundary of each
connector with ``raise ... from exc``; nothing library-specific leaks to callers.
"""

from __future__ import annotations

from models.errors import ConnectorsError, ExitCode

__all__ = [
    "AuthenticationFailed",
    "IntegrationError",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "ServiceUnavailable",
    "UnsupportedAudio",
]


class IntegrationError(ConnectorsError):
    """Root of every error raised by an integration (below `ConnectorsError`)."""


class RateLimited(IntegrationError):
    """The service throttled the request.

    Attributes:
        retry_after: seconds the service asked us to wait, or None when it did not say.
    """

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str = "rate limited", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationFailed(IntegrationError):
    """Credentials are missing, malformed or were rejected."""

    exit_code = ExitCode.DENIED


class NotFound(IntegrationError):
    """The addressed resource does not exist."""

    exit_code = ExitCode.NOT_FOUND


class InvalidRequest(IntegrationError):
    """The request was rejected as invalid (by the service, or by us before sending it)."""

    exit_code = ExitCode.USAGE


class UnsupportedAudio(InvalidRequest):
    """Audio bytes that cannot be identified, decoded or sent."""


class ServiceUnavailable(IntegrationError):
    """The service could not be reached or kept failing after retries."""

    exit_code = ExitCode.UNAVAILABLE
