"""The run summary published as a Prefect markdown artifact: anomalies, ids, next commands."""

from __future__ import annotations

from datetime import datetime

from anomwatch.config import parse_monitors
from anomwatch.store.anomalies import AnomalyRecord
from anomwatch.store.runs import RunStats
from tasks.report import run_markdown
from tasks.score import ScoredBatch

MONITOR = parse_monitors(
    {
        "monitors": [
            {
                "name": "web",
                "source": {
                    "url": "sqlite:///x.db",
                    "table": "m",
                    "timestamp": "ts",
                    "values": ["v"],
                },
            }
        ]
    },
    "test",
).get("web")


def _record(minute: int, score: float) -> AnomalyRecord:
    return AnomalyRecord(
        monitor="web",
        series="host=a",
        ts=datetime(2026, 11, 24, 10, minute),
        value=99.5,
        expected=40.0,
        lower=30.0,
        upper=50.0,
        score=score,
        components="{}",
        feature_values="{}",
        severity="critical",
        model_id=None,
    )


def test_summary_lists_anomalies_ids_and_the_history_and_report_commands() -> None:
    scored = ScoredBatch(records=[_record(5, 0.9991), _record(10, 0.9999)])
    text = run_markdown(MONITOR, 7, RunStats(series=1, points_scored=12), scored, [41, 42], [])
    assert text.startswith("# anomwatch run 7: web")
    rows = [line for line in text.splitlines() if line.startswith("| host=a")]
    assert rows == [
        "| host=a | 2026-11-24 10:10:00 | 99.5 | 40 | 1.000 | critical |",
        "| host=a | 2026-11-24 10:05:00 | 99.5 | 40 | 0.999 | critical |",
    ]
    assert "New anomaly ids: 41, 42 (details and plot: `anomwatch anomalies show ID`)" in text
    assert "`anomwatch anomalies --monitor web --since 24h`" in text
    assert "`anomwatch report --monitor web --since 7d --out report.html`" in text


def test_summary_without_anomalies_says_so_and_lists_no_ids() -> None:
    text = run_markdown(MONITOR, 8, RunStats(), ScoredBatch(), [], ["2 row(s) dropped"])
    assert "No anomalies in this run." in text
    assert "New anomaly ids" not in text
    assert "## Notes\n- 2 row(s) dropped" in text
