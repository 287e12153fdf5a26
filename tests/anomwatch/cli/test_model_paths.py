"""Model paths are stored relative to the models folder: a moved home folder keeps its
models, and a missing model directory is called missing (and retrained), not
"incomplete"."""

from __future__ import annotations

import shutil

from sqlalchemy import select

from anomwatch.store.schema import models
from tasks.fit import clear_model_cache
from tests.anomwatch.cli.conftest import invoke, monitor_spec, write_monitors


def test_a_moved_home_folder_keeps_its_models(cli_env, source_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = write_monitors(tmp_path / "m.yaml", monitor_spec("hosts", source_url))
    first = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T00:00")
    assert "trained 2 model(s)" in first.stdout, first.output
    with cli_env.begin() as conn:
        stored = conn.execute(select(models.c.artifact_path)).scalars().all()
    assert len(stored) == 2
    assert all(p.startswith("hosts/") and p.endswith("/v1") for p in stored), stored

    clear_model_cache()  # each `anomwatch run` is a new process: nothing cached
    shutil.move(tmp_path / "home", tmp_path / "moved")
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "moved"))
    second = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T01:00")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("run 2 succeeded: ")
    assert "trained" not in second.stdout and "refused" not in second.stdout

    shutil.rmtree(tmp_path / "moved" / "models" / stored[0])
    clear_model_cache()
    third = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T02:00")
    assert third.stdout.startswith("run 3 partial: "), third.output
    assert (
        f"model file refused, retraining next tick: {tmp_path / 'moved' / 'models' / stored[0]}: "
        "the model directory does not exist (was the models folder moved or deleted?)"
    ) in third.stdout
    fourth = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T03:00")
    assert fourth.stdout.startswith("run 4 succeeded: ")
    assert "trained 1 model(s)" in fourth.stdout


def test_a_moved_home_folder_keeps_a_shared_lstm(cli_env, source_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """lstm_sharing: per_monitor: each series' model finds the monitor's shared network
    relative to its own directory, not at the absolute path it was trained under."""
    spec = monitor_spec("hosts", source_url)
    spec["detector"] = {
        "components": ["iforest", "lstm_forecaster"],
        "min_train_points": 100,
        "sequence_length": 8,
        "lstm": {"units": 4, "epochs": 2, "batch_size": 32, "patience": 1},
    }
    spec["lstm_sharing"] = "per_monitor"
    path = write_monitors(tmp_path / "m.yaml", spec)
    first = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T00:00")
    assert "trained 2 model(s)" in first.stdout, first.output
    with cli_env.begin() as conn:
        stored = conn.execute(select(models.c.series, models.c.artifact_path)).all()
    assert sorted(s for s, _ in stored) == [
        "@shared-lstm",
        "host=web-1,metric=cpu",
        "host=web-2,metric=cpu",
    ]
    assert all(p.startswith("hosts/") for _, p in stored), stored

    clear_model_cache()  # each `anomwatch run` is a new process: nothing cached
    shutil.move(tmp_path / "home", tmp_path / "moved")
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "moved"))
    second = invoke("run", "hosts", "-m", str(path), "--until", "2026-11-02T01:00")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("run 2 succeeded: "), second.stdout
    assert "points scored" in second.stdout and " 0 points scored" not in second.stdout
    assert "trained" not in second.stdout and "refused" not in second.stdout
