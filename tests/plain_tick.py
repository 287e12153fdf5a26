"""A monitor's tick without Prefect: flows.monitor.run_tick with its tasks as plain functions.

For tests that run many ticks (events across ticks, health checks): the same code
path as the flow, minus Prefect's temporary API server.
"""

from __future__ import annotations

from typing import Any

import pytest


class _Done:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


def use_plain_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.monitor as fm
    from tasks.batch import process_batch
    from tasks.extract import extract_rows
    from tasks.fit import prepare_shared_lstm
    from tasks.notify import notify_monitor
    from tasks.persist import persist_scored
    from tasks.report import plot_tick

    class Batch:
        @staticmethod
        def submit(*args: Any) -> _Done:
            return _Done(process_batch(*args))

    monkeypatch.setattr(fm, "extract_task", extract_rows)
    monkeypatch.setattr(fm, "batch_task", Batch)
    monkeypatch.setattr(fm, "prepare_shared_task", prepare_shared_lstm)
    monkeypatch.setattr(fm, "persist_task", persist_scored)
    monkeypatch.setattr(fm, "plot_task", plot_tick)
    monkeypatch.setattr(fm, "notify_task", notify_monitor)
