"""Terminal logs without tracebacks for expected errors.

Prefect logs a failed task or flow with the exception's traceback. For our expected
errors (AnomwatchError: a missing variable, a refused login, a missing table) the
message says all, and the CLI repeats it as its `error:` line; a traceback there
looks like a bug. Only terminal handlers are filtered: Prefect's API handlers still
send the traceback to the UI. `--debug` (or ANOMWATCH_DEBUG=1 for scheduled runs)
keeps them.
"""

from __future__ import annotations

import logging
import os

from anomwatch.errors import AnomwatchError


class HideExpectedTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], AnomwatchError):
            record.exc_info = None
            record.exc_text = None
        return True


def hide_expected_tracebacks() -> None:
    """Install the filter on the terminal handlers of Prefect's logging setup (call after
    Prefect is imported); a no-op with ANOMWATCH_DEBUG=1."""
    if os.environ.get("ANOMWATCH_DEBUG") == "1":
        return
    names = ["", *(n for n in logging.root.manager.loggerDict if n.startswith("prefect"))]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not any(
                isinstance(f, HideExpectedTracebacks) for f in handler.filters
            ):
                handler.addFilter(HideExpectedTracebacks())


class DropRecordsOf(logging.Filter):
    """Drops records of some loggers at one handler; the loggers themselves (and
    apprise's own log capture, which reports a failed send's reason) are untouched."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(record.name == n or record.name.startswith(n + ".") for n in self.names)


def keep_off_terminal(*names: str) -> None:
    """Records of these loggers no longer reach the terminal (Prefect's console handler
    or Python's last-resort handler); a command that prints them itself calls this."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if type(h).__name__ == "PrefectConsoleHandler" or type(h) is logging.StreamHandler
    ]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, DropRecordsOf) for f in handler.filters):
            handler.addFilter(DropRecordsOf(names))
