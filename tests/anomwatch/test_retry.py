"""The retry helper: transient failures are retried with doubling waits, others are not."""

from __future__ import annotations

import pytest

from anomwatch.errors import SourceError, SourceUnavailableError
from anomwatch.retry import RetryPolicy, call_with_retries
from anomwatch.store.db import StoreError, StoreUnavailableError


def flaky(failures: list[Exception], value: str = "ok"):
    calls: list[int] = []

    def step() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return value

    return step, calls


def test_delays_double_and_are_capped() -> None:
    assert RetryPolicy(attempts=5, base_seconds=1.0, max_seconds=5).delays() == [1, 2, 4, 5]
    assert RetryPolicy(attempts=1).delays() == []


def test_transient_failures_are_retried_with_backoff_until_success() -> None:
    slept: list[float] = []
    step, calls = flaky([StoreUnavailableError("store x: gone"), SourceUnavailableError("y")])
    out = call_with_retries(step, "m1", "persist", RetryPolicy(4, 0.5), sleep=slept.append)
    assert out == "ok" and len(calls) == 3 and slept == [0.5, 1.0]


def test_last_failure_names_monitor_step_attempts_and_cause() -> None:
    failures: list[Exception] = [
        SourceUnavailableError("monitor 'm1': reading from pg://u:***@h/db failed: boom")
        for _ in range(3)
    ]
    step, calls = flaky(failures)
    with pytest.raises(SourceUnavailableError) as info:
        call_with_retries(step, "m1", "extract", RetryPolicy(3, 0), sleep=lambda _s: None)
    assert str(info.value) == (
        "monitor 'm1': extract failed after 3 attempt(s): reading from pg://u:***@h/db failed: boom"
    )
    assert len(calls) == 3


@pytest.mark.parametrize("error", [SourceError("bad column"), StoreError("integrity"), KeyError()])
def test_permanent_failures_are_not_retried(error: Exception) -> None:
    step, calls = flaky([error])
    with pytest.raises(type(error)):
        call_with_retries(step, "m1", "extract", RetryPolicy(4, 0), sleep=lambda _s: None)
    assert len(calls) == 1


def test_policy_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANOMWATCH_DB_ATTEMPTS", "2")
    monkeypatch.setenv("ANOMWATCH_DB_RETRY_BASE_SECONDS", "0.25")
    assert RetryPolicy.from_settings() == RetryPolicy(attempts=2, base_seconds=0.25)
