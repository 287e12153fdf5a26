"""A monitors.yaml over a small simulated source, and the CLI invoked as a user would."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from anomwatch.cli import app

T0 = datetime(2026, 11, 1)
runner = CliRunner()


def invoke(*args: str) -> Any:
    """The command's result with stdout and stderr apart (exceptions are not caught:
    an unexpected one fails the test with its traceback)."""
    return runner.invoke(app, list(args), catch_exceptions=False)


def monitor_spec(name: str, url: str | None, **source: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"url": url} if url else {}
    spec |= {
        "table": "metrics",
        "timestamp": "ts",
        "series": ["host", "metric"],
        "values": ["value"],
    }
    spec.update(source)
    return {
        "name": name,
        "source": spec,
        "schedule": "*/5 * * * *",
        "detector": {"components": ["iforest"], "min_train_points": 100},
        "retrain": {"window": "3d"},
    }


def write_monitors(path: Path, *monitors: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"monitors": list(monitors)}, sort_keys=False))
    return path


@pytest.fixture
def source_url(tmp_path: Path) -> str:
    """Two days of simulated metrics (2 hosts x cpu) in a SQLite source."""
    from anomwatch.demo import simulate, write_rows

    url = f"sqlite:///{tmp_path / 'source.db'}"
    rows = simulate(
        T0, datetime(2026, 11, 3), hosts=("web-1", "web-2"), metrics={"cpu": (40.0, 10.0, 2.0)}
    )
    write_rows(url, rows)
    return url


@pytest.fixture
def cli_env(store, settings, monkeypatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A migrated store on each backend, a home folder, no Prefect API (plain runs)."""
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store.url)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return store
