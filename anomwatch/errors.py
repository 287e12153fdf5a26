"""Error types. Every message names the monitor (when there is one) and the cause."""

from __future__ import annotations


class AnomwatchError(Exception):
    """Base class: an expected failure with a message meant for the operator."""


class ConfigError(AnomwatchError):
    """monitors.yaml or settings are invalid."""


class UnknownMonitorError(ConfigError):
    def __init__(self, name: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) or "(none configured)"
        super().__init__(f"unknown monitor {name!r}; configured monitors: {listed}")
        self.name = name


class SourceError(AnomwatchError):
    """The source database is unreachable, or a table/column/value is not usable."""


class SourceUnavailableError(SourceError):
    """The source could not be reached or timed out: worth retrying."""


class StoreError(AnomwatchError):
    """anomwatch's own store is not reachable or not migrated."""


class MonitorLockedError(AnomwatchError):
    """Another run of the same monitor holds the lock."""


class NotifyError(AnomwatchError):
    """A notification target is misconfigured."""
