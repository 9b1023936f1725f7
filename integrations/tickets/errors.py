"""Errors of the ticket connectors, rooted in `integrations.errors`.

IntegrationError
├── RateLimited(retry_after)       429 still answered after the retry budget
├── AuthenticationFailed           401/403
├── NotFound                       404
├── InvalidRequest
│   └── RequestRejected            400/409/422 with the service's own messages
│       (error_messages, errors)   (Jira ``errorMessages``/``errors``, ClickUp ``err``)
├── ServiceUnavailable             transport failure, timeout or 5xx after retries
├── PaginationError                the service's paging misbehaved (repeated cursor, page cap)
└── UnexpectedResponse(field)      a response without the shape the API description promises
"""

from __future__ import annotations

from typing import Any

from integrations.errors import (
    AuthenticationFailed,
    IntegrationError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
)
from models.errors import ExitCode

__all__ = [
    "AuthenticationFailed",
    "IntegrationError",
    "InvalidRequest",
    "NotFound",
    "PaginationError",
    "RateLimited",
    "RequestRejected",
    "ServiceUnavailable",
    "UnexpectedResponse",
]


class RequestRejected(InvalidRequest):
    """The service rejected the request body or parameters (400/409/422).

    Attributes:
        status_code: the HTTP status the service answered.
        error_messages: general messages (Jira ``errorMessages``, ClickUp ``err``).
        errors: messages by field (Jira ``errors``).
        body: the decoded JSON body (None when it was not JSON), for operations whose
            error answer carries more (Jira's bulk create lists each element's errors).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_messages: list[str] | None = None,
        errors: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_messages = list(error_messages or [])
        self.errors = dict(errors or {})
        self.body = body


class PaginationError(IntegrationError):
    """Paging did not terminate sanely (a repeated cursor or too many pages)."""


class UnexpectedResponse(IntegrationError):
    """A response value the API description does not allow (or we cannot use).

    Attributes:
        field: where in the response (``issues[3].fields.updated``).
    """

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field
