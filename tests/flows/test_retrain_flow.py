"""`anomwatch retrain`: the retrain flow re-tunes from labels and publishes what changed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anomwatch.cli import app
from anomwatch.store.db import Store
from anomwatch.store.runs import register_monitor
from anomwatch.store.tuning import active_threshold
from tests.tasks.test_retune import add_labelled

pytestmark = [pytest.mark.slow, pytest.mark.flows]

MONITORS = """
monitors:
  - name: web
    source: {url: "sqlite://", table: m, timestamp: ts, values: [v]}
    feedback: {min_labels: 20}
"""


async def retrain_artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return "\n".join(str(a.data) for a in found)


def test_retrain_command_tunes_and_publishes_the_before_after_table(
    sqlite_databases, tmp_path: Path, monkeypatch
) -> None:
    store = Store(sqlite_databases.new("store"))
    store.migrate()
    register_monitor(store, "web", "h")
    (tmp_path / "monitors.yaml").write_text(MONITORS)
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store.url)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    args = ["retrain", "web", "--monitors", str(tmp_path / "monitors.yaml")]

    add_labelled(store, 10)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "10 labelled anomalies, 20 needed (feedback.min_labels)" in result.output
    assert active_threshold(store, "web") is None

    add_labelled(store, 14, start=10)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    threshold = active_threshold(store, "web")
    assert threshold is not None
    assert "re-tuned from 24 labels (24 new)" in result.output
    assert f"| minimum score | detector's own | {threshold:.6f} |" in result.output
    assert f"{threshold:.6f}" in asyncio.run(retrain_artifact("web-retrain"))

    unknown = runner.invoke(app, ["retrain", "nope", "--monitors", str(tmp_path / "monitors.yaml")])
    assert unknown.exit_code == 2 and "nope" in unknown.output
    store.dispose()
