"""`anomwatch anomalies tune --classifier`: a supervised filter learnt from feedback labels."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from anomwatch.cli import app
from anomwatch.store.anomalies import AnomalyRecord, persist_tick, query_anomalies
from anomwatch.store.model_paths import from_stored
from anomwatch.store.runs import register_monitor
from anomwatch.store.schema import classifiers, thresholds
from detector.persistence import sha256_of

runner = CliRunner()
T0 = datetime(2026, 11, 1)


def _record(i: int, real: bool, ts: datetime) -> AnomalyRecord:
    """Real incidents: both components high. False alarms: only the forest fires.

    The ensemble scores of both kinds interleave, so no threshold separates them.
    """
    score = 0.990 + 0.0003 * i
    residual = 0.97 + 0.0005 * (i % 5) if real else 0.20 + 0.05 * (i % 5)
    return AnomalyRecord(
        monitor="web",
        series=f"host=web-{i % 3}",
        ts=ts,
        value=100.0 + i,
        expected=50.0,
        lower=40.0,
        upper=60.0,
        score=score,
        components=json.dumps({"iforest": score, "robust_residual": residual}),
        feature_values="{}",
        severity="warning",
        model_id=None,
    )


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.fixture
def web(store, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store.url)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    register_monitor(store, "web", "h")
    return store


def _label(store, n: int) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    """n anomalies, alternately real and false alarms, labelled through the CLI."""
    records = [_record(i, i % 2 == 0, T0 + timedelta(minutes=5 * i)) for i in range(n)]
    persist_tick(store, "web", None, records, {})
    rows = sorted(query_anomalies(store, monitor="web"), key=lambda r: r["ts"])
    real = [r["id"] for i, r in enumerate(rows) if i % 2 == 0]
    false = [r["id"] for i, r in enumerate(rows) if i % 2 == 1]
    assert run("anomalies", "label", *map(str, real), "--true-positive").exit_code == 0
    assert run("anomalies", "label", *map(str, false), "--false-positive").exit_code == 0
    return real, false


def _figures(output: str, name: str) -> tuple[str, str]:
    match = re.search(rf"^  {name}\s+(\S+(?: \S+)*?)\s{{2,}}(\S.*)$", output, re.M)
    assert match, output
    return match.group(1), match.group(2).strip()


@pytest.mark.parametrize("kind", ["tree", "gradient-boosting"])
def test_classifier_learns_to_reject_false_positives_and_later_ticks_hold_them_back(
    web, kind, tmp_path
) -> None:
    _label(web, 40)
    result = run("anomalies", "tune", "web", "--classifier", kind, "--by", "ana")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "tuned from 40 labels (20 true positives, 20 false positives)" in out
    assert _figures(out, "minimum score")[0] == "detector's own"
    assert _figures(out, "classifier") == ("none", f"{kind} v1")
    before_p, after_p = map(float, _figures(out, "precision"))
    before_r, after_r = map(float, _figures(out, "recall"))
    assert before_p == 0.5 and before_r == 1.0  # everything flagged, half of it noise
    assert after_p >= 0.95 and after_r >= 0.9  # cross-validated, not in-sample
    assert "cross-validated" in out

    with web.begin() as conn:
        row = conn.execute(select(classifiers)).one()
    assert (row.kind, row.version, row.active, row.trained_by) == (kind, 1, True, "ana")
    assert json.loads(row.features) == ["iforest", "robust_residual", "score"]
    # stored relative to the models folder (a moved home keeps its models)
    assert not Path(row.artifact_path).is_absolute()
    assert sha256_of(Path(from_stored(row.artifact_path)) / "manifest.json") == row.sha256

    # A later tick: the classifier holds back the false-alarm pattern, keeps the rest.
    later = T0 + timedelta(days=1)
    new = [_record(i, i % 2 == 0, later + timedelta(minutes=5 * i)) for i in range(6)]
    persist_tick(web, "web", None, new, {})
    stored = {r["ts"]: r["suppressed"] for r in query_anomalies(web, monitor="web", since=later)}
    assert [stored[r.ts] for r in new] == [None, "classifier"] * 3

    page_path = tmp_path / "r.html"
    assert (
        run("report", "--monitor", "web", "--since", "60d", "--out", str(page_path)).exit_code == 0
    )
    page = page_path.read_text()
    assert "stored but not notified: 3 classifier" in page
    assert f"classifier: {kind} v1 (cross-validated precision 1.00" in page

    # Retraining later reports the active classifier as "before".
    again = run("anomalies", "tune", "web", "--classifier", "tree")
    assert _figures(again.output, "classifier") == (f"{kind} v1", "tree v2")
    assert float(_figures(again.output, "precision")[0]) >= 0.95


def test_too_few_labels_for_a_classifier_is_a_clear_error_and_changes_nothing(web) -> None:
    _label(web, 8)  # 4 real, 4 false alarms: enough for a threshold, not for a classifier
    result = run("anomalies", "tune", "web", "--min-labels", "5", "--classifier", "tree")
    assert result.exit_code == 2
    assert (
        "a classifier needs at least 5 true and 5 false positives; the labels have 4 and 4; "
        "nothing changed" in result.output
    )
    assert "Traceback" not in result.output
    with web.begin() as conn:
        assert conn.execute(select(func.count()).select_from(classifiers)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(thresholds)).scalar() == 0
    too_few = run("anomalies", "tune", "web", "--classifier", "tree")  # default --min-labels 20
    assert too_few.exit_code == 2
    assert "has 8 labelled anomalies; at least 20 are needed" in too_few.output


def test_a_modified_classifier_file_suppresses_nothing(web) -> None:
    _label(web, 20)
    assert run("anomalies", "tune", "web", "--classifier", "tree").exit_code == 0
    with web.begin() as conn:
        path = Path(from_stored(conn.execute(select(classifiers.c.artifact_path)).scalar_one()))
    (path / "state.joblib").write_bytes(b"tampered")
    later = T0 + timedelta(days=2)
    persist_tick(web, "web", None, [_record(1, False, later)], {})
    (row,) = query_anomalies(web, monitor="web", since=later)
    assert row["suppressed"] is None  # refused file: notified as if there were no classifier
