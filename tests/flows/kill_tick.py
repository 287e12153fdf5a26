"""Child process for the crash tests: one tick that SIGKILLs itself at a chosen step.

    python kill_tick.py STEP UNTIL MONITORS_FILE

Runs flows.monitor.run_tick with the plain task functions (no Prefect API in the
child) and kills the process at STEP: after_extract, after_score, inside_persist
(inside the persist transaction, after the inserts), after_persist, before_send,
after_send (the message was delivered, the outbox not yet updated).
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


def main() -> None:
    step, until, monitors_file = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3]
    import anomwatch.store.anomalies as anomalies_module
    import flows.monitor as fm
    import tasks.notify as notify_module
    from anomwatch.config import load_monitors
    from anomwatch.settings import Settings
    from anomwatch.store.db import Store
    from tasks.batch import process_batch
    from tasks.extract import extract_rows
    from tasks.fit import prepare_shared_lstm
    from tasks.notify import notify_monitor
    from tasks.persist import persist_scored
    from tasks.report import plot_tick

    def extract(*args: Any) -> Any:
        out = extract_rows(*args)
        if step == "after_extract":
            die()
        return out

    class Batch:
        @staticmethod
        def submit(*args: Any) -> _Done:
            return _Done(process_batch(*args))

    original_process = fm._process

    def process(*args: Any) -> Any:
        out = original_process(*args)
        if step == "after_score":
            die()
        return out

    original_advance = anomalies_module._advance_watermarks

    def advance(*args: Any) -> None:
        original_advance(*args)
        if step == "inside_persist":
            die()

    def plot(*args: Any) -> Any:
        if step == "after_persist":
            die()
        return plot_tick(*args)

    real_send = notify_module.send_digest

    def send(*args: Any) -> Any:
        if step == "before_send":
            die()
        if step == "after_send":  # the target accepted it; the outbox row is still pending
            outcome = real_send(*args)
            if not outcome.ok:
                print(f"the send failed, nothing to kill after: {outcome.error}", file=sys.stderr)
                sys.exit(4)
            die()
        raise AssertionError("unreachable in this test")

    fm.extract_task = extract  # type: ignore[assignment]
    fm.batch_task = Batch  # type: ignore[assignment]
    fm.prepare_shared_task = prepare_shared_lstm  # type: ignore[assignment]
    fm._process = process  # type: ignore[assignment]
    fm.persist_task = persist_scored  # type: ignore[assignment]
    fm.plot_task = plot  # type: ignore[assignment]
    fm.notify_task = notify_monitor  # type: ignore[assignment]
    anomalies_module._advance_watermarks = advance  # type: ignore[assignment]
    notify_module.send_digest = send  # type: ignore[assignment]

    settings = Settings()
    monitor = load_monitors(Path(monitors_file)).get("hosts")
    fm.run_tick(settings, Store(settings.resolved_store_url), monitor, until)
    print("tick finished without being killed", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main()
