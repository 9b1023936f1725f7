"""The call helper: budget, retry of transient failures, translation of Google errors."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from integrations import errors
from integrations.voice._calls import CallBudget, call, translate_error


class Flaky:
    """A client method that fails with the queued exceptions, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def _call(method: Flaky, budget: CallBudget, sleeps: list[float] | None = None) -> str:
    pauses = sleeps if sleeps is not None else []
    return call(
        method,
        {"x": 1},
        what="speech recognize",
        budget=budget,
        timeout=7.0,
        backoff=0.5,
        sleep=pauses.append,
    )


def test_every_call_has_an_explicit_timeout_and_no_library_retry() -> None:
    method = Flaky()
    assert _call(method, CallBudget()) == "ok"
    assert method.calls == [{"request": {"x": 1}, "timeout": 7.0, "retry": None}]


def test_transient_failures_are_retried_with_backoff_within_the_budget() -> None:
    method, sleeps = Flaky(gexc.ServiceUnavailable("down"), gexc.DeadlineExceeded("slow")), []
    budget = CallBudget(3)
    assert _call(method, budget, sleeps) == "ok"
    assert budget.used == 3 and sleeps == [0.5, 1.0]


def test_budget_exhausted_raises_the_last_error_translated() -> None:
    method = Flaky(*[gexc.ServiceUnavailable("down")] * 5)
    budget = CallBudget(3)
    with pytest.raises(errors.ServiceUnavailable, match="speech recognize: down") as info:
        _call(method, budget)
    assert len(method.calls) == 3 and budget.left == 0
    assert isinstance(info.value.__cause__, gexc.ServiceUnavailable)


def test_non_transient_errors_are_not_retried() -> None:
    method = Flaky(gexc.InvalidArgument("bad encoding"))
    with pytest.raises(errors.InvalidRequest, match="bad encoding"):
        _call(method, CallBudget(3))
    assert len(method.calls) == 1


def test_rate_limit_waits_as_told_then_reports_retry_after() -> None:
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=2, nanos=500_000_000)
    )
    method, sleeps = Flaky(*[gexc.ResourceExhausted("quota", details=[retry])] * 2), []
    with pytest.raises(errors.RateLimited) as info:
        _call(method, CallBudget(2), sleeps)
    assert sleeps == [2.5]
    assert info.value.retry_after == 2.5


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (gexc.Unauthenticated("no"), errors.AuthenticationFailed),
        (gexc.PermissionDenied("no"), errors.AuthenticationFailed),
        (gexc.NotFound("gone"), errors.NotFound),
        (gexc.InvalidArgument("bad"), errors.InvalidRequest),
        (gexc.FailedPrecondition("bad"), errors.InvalidRequest),
        (gexc.OutOfRange("long"), errors.InvalidRequest),
        (gexc.ResourceExhausted("quota"), errors.RateLimited),
        (gexc.InternalServerError("boom"), errors.ServiceUnavailable),
        (gexc.Unknown("?"), errors.ServiceUnavailable),
    ],
)
def test_translate_error(exc: Exception, expected: type[errors.IntegrationError]) -> None:
    translated = translate_error(exc, "tts list_voices")
    assert type(translated) is expected
    assert str(translated).startswith("tts list_voices: ")
