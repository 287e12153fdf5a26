"""`anomwatch anomalies show ID`: the record, and a PNG of the series read from the source."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, create_engine, insert
from typer.testing import CliRunner

from anomwatch.anomaly_plot import parse_series_key, read_window
from anomwatch.cli import app
from anomwatch.config import load_monitors
from anomwatch.store.anomalies import AnomalyRecord, persist_tick
from anomwatch.store.models_registry import register_model
from anomwatch.store.runs import register_monitor
from detector import DetectorConfig, EnsembleDetector

runner = CliRunner()
STEP = timedelta(minutes=5)
T0 = datetime(2026, 11, 20, 0, 0)
N = 300
SPIKE = 150  # row index of the anomaly in series host=a,metric=cpu


def _value(series: int, i: int) -> float:
    if series == 0 and i == SPIKE:
        return 400.0
    return 50.0 + 10 * np.sin(i / 12) + series * 100 + (i % 7) * 0.3


def _make_source(url: str) -> None:
    meta = MetaData()
    metrics = Table(
        "metrics",
        meta,
        Column("ts", DateTime, nullable=False),
        Column("host", String(20), nullable=False),
        Column("metric", String(20), nullable=False),
        Column("value", Float),
    )
    engine = create_engine(url)
    meta.create_all(engine)
    rows = [
        {"ts": T0 + i * STEP, "host": host, "metric": "cpu", "value": _value(s, i)}
        for s, host in enumerate(["a", "b"])
        for i in range(N)
    ]
    with engine.begin() as conn:
        conn.execute(insert(metrics), rows)
    engine.dispose()


def _monitors_file(tmp_path: Path, source_url: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "monitors.yaml"
    monitor = {
        "name": "web",
        "source": {
            "url": source_url,
            "table": "metrics",
            "timestamp": "ts",
            "series": ["host", "metric"],
            "values": ["value"],
        },
        "detector": {"components": ["iforest"]},
    }
    path.write_text(yaml.safe_dump({"monitors": [monitor]}))
    return path


def _record(i: int, model_id: int | None) -> AnomalyRecord:
    return AnomalyRecord(
        monitor="web",
        series="host=a,metric=cpu",
        ts=T0 + i * STEP,
        value=_value(0, i),
        expected=50.0,
        lower=35.0,
        upper=65.0,
        score=0.9995,
        components=json.dumps({"iforest": 0.9995}),
        feature_values=json.dumps({"value": _value(0, i)}),
        severity="critical",
        model_id=model_id,
    )


@pytest.fixture
def shown(store, databases, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A store with one anomaly found by a real saved model, and its source database."""
    source_url = databases.new("src")
    _make_source(source_url)
    monkeypatch.setenv("ANOMWATCH_STORE_URL", store.url)
    monkeypatch.setenv("ANOMWATCH_HOME", str(tmp_path / "home"))
    register_monitor(store, "web", "h")
    train = np.array([[_value(0, i)] for i in range(SPIKE - 1)])
    detector = EnsembleDetector(DetectorConfig(components=["iforest"])).fit(train)
    directory = tmp_path / "models" / "v1"
    sha = detector.save(directory)
    model = register_model(
        store,
        monitor="web",
        series="host=a,metric=cpu",
        version=1,
        trained_at=T0,
        train_start=T0,
        train_end=T0 + (SPIKE - 2) * STEP,
        n_rows=len(train),
        config_hash="h",
        params={},
        artifact_path=str(directory),
        sha256=sha,
        metrics={},
    )
    ids = persist_tick(store, "web", None, [_record(SPIKE, model.id), _record(SPIKE + 3, None)], {})
    return {"source_url": source_url, "ids": ids, "monitors": _monitors_file(tmp_path, source_url)}


def test_parse_series_key_inverts_the_key_even_with_commas_in_values() -> None:
    assert parse_series_key("host=a,metric=cpu", ["host", "metric"]) == {
        "host": "a",
        "metric": "cpu",
    }
    assert parse_series_key("path=/a,b=c,code=200", ["path", "code"]) == {
        "path": "/a,b=c",
        "code": "200",
    }
    with pytest.raises(ValueError, match="does not match"):
        parse_series_key("x=1", ["host"])


def test_read_window_returns_the_rows_around_the_anomaly_of_that_series_only(shown) -> None:
    config = load_monitors(shown["monitors"]).get("web")
    frame = read_window(config, "host=a,metric=cpu", T0 + SPIKE * STEP, before=10, after=5)
    expected_ts = [T0 + i * STEP for i in range(SPIKE - 9, SPIKE + 6)]
    assert [t.to_pydatetime() for t in frame["ts"]] == expected_ts
    assert frame["value"].tolist() == pytest.approx(
        [_value(0, i) for i in range(SPIKE - 9, SPIKE + 6)],
        rel=1e-5,  # MariaDB FLOAT
    )
    assert list(frame.columns) == ["ts", "value"]
    other = read_window(config, "host=b,metric=cpu", T0 + 2 * STEP, before=10, after=3)
    assert len(other) == 3 + 3  # rows 0..2 exist before, 3 after
    assert other["value"].iloc[0] == pytest.approx(_value(1, 0), rel=1e-5)


def test_show_prints_the_record_and_writes_the_plot(shown, tmp_path) -> None:
    out = tmp_path / "plot.png"
    first = shown["ids"][0]
    result = runner.invoke(
        app,
        ["anomalies", "show", str(first), "--monitors", str(shown["monitors"]), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "series             host=a,metric=cpu" in result.output
    assert "model_version      1" in result.output
    assert f"plot               {out} (72 source rows" in result.output
    assert "band: model v1 re-scored over the window" in result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 15_000
    # Without a model file the band stored with the anomalies is used, and said so.
    default = runner.invoke(
        app, ["anomalies", "show", str(shown["ids"][1]), "--monitors", str(shown["monitors"])]
    )
    assert default.exit_code == 0, default.output
    assert "band: stored with the anomalies" in default.output
    png = tmp_path / "home" / "plots" / "web" / f"anomaly-{shown['ids'][1]}.png"
    assert png.stat().st_size > 15_000


def test_unreachable_source_still_prints_the_record_and_says_why(shown, tmp_path) -> None:
    bad = _monitors_file(tmp_path, "postgresql+psycopg://reader:s3cret@127.0.0.1:1/metrics")
    result = runner.invoke(app, ["anomalies", "show", str(shown["ids"][0]), "--monitors", str(bad)])
    assert result.exit_code == 0, result.output
    assert "series             host=a,metric=cpu" in result.output
    assert "plot               none: the source cannot be read (monitor 'web':" in result.output
    assert "unreachable" in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output
    missing = runner.invoke(
        app, ["anomalies", "show", str(shown["ids"][0]), "--monitors", str(tmp_path / "no.yaml")]
    )
    assert missing.exit_code == 0
    assert "plot               none: the source cannot be read (" in missing.output
    assert "no.yaml not found" in missing.output


def test_report_embeds_the_top_series_around_its_anomaly_from_the_source(shown, tmp_path) -> None:
    out = tmp_path / "r.html"
    args = ["report", "--monitor", "web", "--since", "2026-11-19", "--until", "2026-11-22"]
    result = runner.invoke(app, [*args, "--monitors", str(shown["monitors"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<h2>Top 3 series in context</h2>" in page
    assert page.count("data:image/png;base64,") == 3  # per day, per series, one series in context
    assert f"Anomaly {shown['ids'][0]}, host=a,metric=cpu (72 source rows" in page
    assert "band: model v1 re-scored over the window" in page
    # No readable source: every other section, and the reason instead of the plot.
    bad = _monitors_file(tmp_path / "bad", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x")
    result = runner.invoke(app, [*args, "--monitors", str(bad), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 2
    assert f"No plot of anomaly {shown['ids'][0]}: the source cannot be read (" in page
    assert "s3cret" not in page


def test_read_window_works_on_a_query_source_too(shown, tmp_path) -> None:
    from anomwatch.config import parse_monitors

    query = "SELECT ts, host, metric, value FROM metrics WHERE ts > :since AND ts <= :until"
    raw = {
        "name": "web",
        "source": {
            "url": shown["source_url"],
            "query": query,
            "timestamp": "ts",
            "series": ["host", "metric"],
            "values": ["value"],
        },
    }
    config = parse_monitors({"monitors": [raw]}, "test").get("web")
    frame = read_window(config, "host=b,metric=cpu", T0 + 100 * STEP, before=4, after=2)
    assert [t.to_pydatetime() for t in frame["ts"]] == [T0 + i * STEP for i in range(97, 103)]
    assert frame["value"].tolist() == pytest.approx(
        [_value(1, i) for i in range(97, 103)], rel=1e-5
    )
