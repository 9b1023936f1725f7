"""Fixtures: fakes behind ``httpx.MockTransport``, every request validated against the specs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from integrations.tickets.http import RetryPolicy, http_retry_policy
from integrations.tickets.testing import (
    FakeClickUp,
    FakeJira,
    SpecValidator,
    clickup_validator,
    jira_validator,
    validating,
)


class Sleeps:
    """An injectable sleep that records instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="session")
def jira_spec() -> SpecValidator:
    return jira_validator()


@pytest.fixture(scope="session")
def clickup_spec() -> SpecValidator:
    return clickup_validator()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def retry(sleeps: Sleeps) -> RetryPolicy:
    return http_retry_policy(sleep=sleeps, rng=lambda: 0.0)


@pytest.fixture
def fake_jira() -> FakeJira:
    return FakeJira()


@pytest.fixture
def fake_clickup() -> FakeClickUp:
    return FakeClickUp()


@pytest.fixture
def jira_client(fake_jira: FakeJira, jira_spec: SpecValidator) -> Iterator[httpx.Client]:
    """A client whose every request is validated against the Jira document, then faked."""
    with httpx.Client(transport=httpx.MockTransport(validating(fake_jira, jira_spec))) as c:
        yield c
    assert fake_jira.concurrent_writes == 0, "two writes to one issue overlapped"


@pytest.fixture
def clickup_client(
    fake_clickup: FakeClickUp, clickup_spec: SpecValidator
) -> Iterator[httpx.Client]:
    """A client whose every request is validated against the ClickUp document, then faked."""
    with httpx.Client(transport=httpx.MockTransport(validating(fake_clickup, clickup_spec))) as c:
        yield c
    assert fake_clickup.concurrent_writes == 0, "two writes to one task overlapped"
