"""Child process for the crash tests: one tick that SIGKILLs itself at a chosen step.

    python kill_tick.py STEP UNTIL MONITORS_FILE

Runs flows.monitor.run_tick with the plain task functions (no Prefect API in the
child) and kills the process at STEP: after_extract, after_score, inside_persist
(inside the persist transaction, after the inserts), after_persist, before_send,
after_send (the message was delivered, the outbox not yet updated).
`plain_pipeline` is shared with bench/soak.py, which kills its ticks the same way.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _Done:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


def plain_pipeline(kill_at: str | None) -> None:
    """The flow's tasks as plain functions, with a SIGKILL at `kill_at` (None: no kill)."""
    import anomwatch.store.anomalies as anomalies_module
    import flows.monitor as fm
    import tasks.notify as notify_module
    from tasks.batch import process_batch
    from tasks.extract import extract_rows
    from tasks.fit import prepare_shared_lstm
    from tasks.notify import notify_monitor
    from tasks.persist import persist_scored
    from tasks.report import plot_tick

    def at(step: str) -> None:
        if kill_at == step:
            die()

    def extract(*args: Any) -> Any:
        out = extract_rows(*args)
        at("after_extract")
        return out

    class Batch:
        @staticmethod
        def submit(*args: Any) -> _Done:
            return _Done(process_batch(*args))

    process = fm._process

    def process_then(*args: Any) -> Any:
        out = process(*args)
        at("after_score")
        return out

    advance = anomalies_module._advance_watermarks  # may already carry a connection killer

    def advance_then(*args: Any) -> None:
        advance(*args)
        at("inside_persist")

    def plot(*args: Any) -> Any:
        at("after_persist")
        return plot_tick(*args)

    send = notify_module.send_digest

    def send_around(*args: Any) -> Any:
        at("before_send")
        out = send(*args)
        if out.ok:  # the target accepted it; the outbox row is still pending
            at("after_send")
        elif kill_at == "after_send":
            print(f"the send failed, nothing to kill after: {out.error}", file=sys.stderr)
            sys.exit(4)
        return out

    fm.extract_task = extract  # type: ignore[assignment]
    fm.batch_task = Batch  # type: ignore[assignment]
    fm.prepare_shared_task = prepare_shared_lstm  # type: ignore[assignment]
    fm._process = process_then  # type: ignore[assignment]
    fm.persist_task = persist_scored  # type: ignore[assignment]
    fm.plot_task = plot  # type: ignore[assignment]
    fm.notify_task = notify_monitor  # type: ignore[assignment]
    anomalies_module._advance_watermarks = advance_then  # type: ignore[assignment]
    notify_module.send_digest = send_around  # type: ignore[assignment]


def main() -> None:
    step, until, monitors_file = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3]
    import anomwatch

    # the crash tests check this line: the child must run the tree under test
    print(f"anomwatch imported from {Path(anomwatch.__file__).parent}", file=sys.stderr)
    from anomwatch.config import load_monitors
    from anomwatch.settings import Settings
    from anomwatch.store.db import Store
    from flows.monitor import run_tick

    plain_pipeline(step)
    settings = Settings()
    monitor = load_monitors(Path(monitors_file)).get("hosts")
    run_tick(settings, Store(settings.resolved_store_url), monitor, until)
    print("tick finished without being killed", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main()
