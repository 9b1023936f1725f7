"""Retry strategies and error translation, driven by tables of real-looking responses."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from integrations.tickets.errors import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    RequestRejected,
    ServiceUnavailable,
)
from integrations.tickets.http import (
    ExponentialFloor,
    HttpSession,
    ResetHeader,
    RetryAfterHeader,
    http_retry_policy,
    parse_iso_reset,
    parse_unix_reset,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("strategy", "headers", "status", "expected"),
    [
        (RetryAfterHeader(), {"Retry-After": "7"}, 429, 7.0),
        (RetryAfterHeader(), {"Retry-After": "soon"}, 429, None),
        (RetryAfterHeader(), {}, 503, None),
        (
            ResetHeader("X-RateLimit-Reset", parse_iso_reset),
            {"X-RateLimit-Reset": "2024-05-01T12:00:30Z"},
            429,
            30.0,
        ),
        (
            ResetHeader("X-RateLimit-Reset", parse_iso_reset),
            {"X-RateLimit-Reset": "2024-05-01T11:59:00+00:00"},
            429,
            0.0,
        ),
        (
            ResetHeader("X-RateLimit-Reset", parse_unix_reset),
            {"X-RateLimit-Reset": str(int(NOW) + 12)},
            429,
            12.0,
        ),
        (
            ResetHeader("X-RateLimit-Reset", parse_unix_reset),
            {"X-RateLimit-Reset": str(int(NOW) + 12)},
            200,
            None,
        ),
    ],
)
def test_wait_strategies(strategy, headers, status, expected) -> None:
    response = httpx.Response(status, headers=headers)
    assert strategy.wait_seconds(response, 0, NOW) == expected


def test_policy_takes_the_largest_signal_and_only_adds_jitter() -> None:
    policy = http_retry_policy(
        strategies=(RetryAfterHeader(), ExponentialFloor(base=1, factor=2)),
        jitter=0.5,
        rng=lambda: 1.0,
        clock=lambda: NOW,
    )
    assert policy.wait_for(httpx.Response(429, headers={"Retry-After": "3"}), 0) == 4.5
    assert policy.wait_for(httpx.Response(429, headers={"Retry-After": "3"}), 3) == 12.0


def _session(handler, sleeps: list[float], **policy) -> HttpSession:
    retry = http_retry_policy(sleep=sleeps.append, rng=lambda: 0.0, **policy)
    return HttpSession(
        "https://h", {}, client=httpx.Client(transport=httpx.MockTransport(handler)), retry=retry
    )


def test_retries_429_and_503_then_succeeds() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(503),
        httpx.Response(200, json={"ok": True}),
    ]
    sleeps: list[float] = []
    session = _session(lambda r: answers.pop(0), sleeps)
    assert session.request("GET", "/x").json() == {"ok": True}
    assert sleeps == [2.0, 1.0]  # Retry-After, then the exponential floor of attempt 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RequestRejected),
        (401, AuthenticationFailed),
        (403, AuthenticationFailed),
        (404, NotFound),
        (409, RequestRejected),
        (422, RequestRejected),
    ],
)
def test_client_errors_are_never_retried(status, error) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, json={"errorMessages": ["nope"], "errors": {"f": "bad"}})

    with pytest.raises(error, match="nope"):
        _session(handler, []).request("GET", "/x")
    assert len(calls) == 1


def test_request_rejected_carries_jira_messages() -> None:
    body = {"errorMessages": ["Field invalid"], "errors": {"summary": "required"}}
    with pytest.raises(RequestRejected) as info:
        _session(lambda r: httpx.Response(400, json=body), []).request("PUT", "/x")
    assert info.value.error_messages == ["Field invalid"]
    assert info.value.errors == {"summary": "required"}
    assert info.value.status_code == 400


def test_gives_up_on_rate_limit_beyond_the_total_cap() -> None:
    sleeps: list[float] = []
    session = _session(
        lambda r: httpx.Response(429, headers={"Retry-After": "50"}), sleeps, total_cap=120
    )
    with pytest.raises(RateLimited) as info:
        session.request("GET", "/x")
    assert info.value.retry_after == 50.0
    assert sleeps == [50.0, 50.0]  # a third 50 s wait would exceed the 120 s cap


def test_read_timeouts_retried_only_when_idempotent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    sleeps: list[float] = []
    with pytest.raises(ServiceUnavailable, match="ReadTimeout"):
        _session(handler, sleeps, max_attempts=3).request("GET", "/x")
    assert len(sleeps) == 2
    sleeps.clear()
    with pytest.raises(ServiceUnavailable):
        _session(handler, sleeps).request("POST", "/x", idempotent=False)
    assert sleeps == []


def test_connect_timeout_then_success() -> None:
    state = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectTimeout("no route", request=request)
        return httpx.Response(204)

    assert _session(handler, []).request("POST", "/x", idempotent=False).status_code == 204
