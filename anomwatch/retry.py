"""Retrying a database step that failed for a reason another attempt can fix.

A killed connection, a restarted server or a statement timeout is transient: the
step is repeated with exponential backoff, on a fresh connection (the pool
discards connections that died). Anything else (a missing table, a bad value)
fails at once. The steps retried here are safe to repeat: reads, and the persist
transaction, which rolls back as a whole and changes nothing when rerun.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from anomwatch.errors import AnomwatchError, SourceUnavailableError
from anomwatch.store.db import StoreUnavailableError

T = TypeVar("T")
TRANSIENT: tuple[type[AnomwatchError], ...] = (SourceUnavailableError, StoreUnavailableError)
MAX_DELAY_SECONDS = 30.0

log = logging.getLogger("anomwatch.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a step is tried (ANOMWATCH_DB_ATTEMPTS and
    ANOMWATCH_DB_RETRY_BASE_SECONDS)."""

    attempts: int = 4
    base_seconds: float = 1.0
    max_seconds: float = MAX_DELAY_SECONDS

    def delays(self) -> list[float]:
        """The waits between tries: base, 2 x base, 4 x base, ... capped at max_seconds."""
        return [min(self.base_seconds * 2**i, self.max_seconds) for i in range(self.attempts - 1)]

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        from anomwatch.settings import Settings

        settings = Settings()
        return cls(attempts=settings.db_attempts, base_seconds=settings.db_retry_base_seconds)


def call_with_retries(
    step: Callable[[], T],
    monitor: str,
    what: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """step(), tried again after each transient failure; the last failure is raised
    naming the monitor, the step and the number of attempts before its
    (password-free) message."""
    delays = policy.delays()
    prefix = f"monitor {monitor!r}: "
    for attempt in range(1, policy.attempts + 1):
        try:
            return step()
        except TRANSIENT as exc:
            if attempt == policy.attempts:
                cause = str(exc).removeprefix(prefix)
                raise type(exc)(
                    f"{prefix}{what} failed after {attempt} attempt(s): {cause}"
                ) from exc
            delay = delays[attempt - 1]
            log.warning(
                "%s%s failed (attempt %d of %d), retrying in %.1f s: %s",
                prefix,
                what,
                attempt,
                policy.attempts,
                delay,
                exc,
            )
            sleep(delay)
    raise AssertionError("unreachable: attempts >= 1")
