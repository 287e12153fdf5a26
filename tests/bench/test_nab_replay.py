"""The NAB replay: stored anomalies → alert events → NAB's per-row detections, and one
real replay of a small file through the product's tick on SQLite."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from anomwatch.config import parse_monitors  # noqa: E402
from anomwatch.store import schema  # noqa: E402
from bench.nab_replay import (  # noqa: E402
    FileScore,
    NabFile,
    UsageError,
    compare,
    corpus_scores,
    detections,
    event_rows,
    main,
    monitors_spec,
    tick_untils,
    write_export,
)
from detector import DetectorConfig  # noqa: E402
from detector.events import EventParams, track_events  # noqa: E402

T0 = np.datetime64("2014-04-01T00:00", "us")
STEP = np.timedelta64(5, "m")


def stamps(n: int) -> np.ndarray:
    return T0 + np.arange(n) * STEP


def opened(ts: np.ndarray, rows: list[int]) -> list[int]:
    picked = np.asarray(rows, dtype=np.int64)
    return event_rows(ts, ts[picked], np.full(len(rows), 0.99), ["warning"] * len(rows)).tolist()


def test_consecutive_anomalies_are_one_event_paged_at_its_first_row() -> None:
    assert opened(stamps(100), [10, 11, 12, 40, 41]) == [10, 40]


def test_an_event_ends_after_the_quiet_time_of_the_events_settings() -> None:
    ts = stamps(100)
    assert EventParams().resolve_after.total_seconds() == 3600  # 12 rows
    assert opened(ts, [10, 16, 25]) == [10]  # gaps of 30 and 45 minutes
    assert opened(ts, [10, 30, 31]) == [10, 30]  # a gap of 100 minutes


def test_events_equal_those_the_product_forms_tick_by_tick() -> None:
    rng = np.random.default_rng(4)
    ts = stamps(3000)
    flagged = rng.random(3000) < 0.02
    scores = np.where(flagged, rng.uniform(0.99, 1.0, 3000), 0.0)
    severity = np.where(scores >= 0.999, 2, 1)
    carried, ticks = None, []
    for start in range(0, 3000, 7):  # ticks of 7 rows, the open event carried between them
        end = start + 7
        feed = track_events(
            ts[start:end],
            flagged[start:end],
            scores[start:end],
            severity[start:end],
            EventParams(),
            carried,
        )
        carried = feed.open
        ticks += (feed.opened_rows() + start).tolist()
    names = np.where(severity[flagged] == 2, "critical", "warning").tolist()
    from_store = event_rows(ts, ts[flagged], scores[flagged], names).tolist()
    assert from_store == ticks
    assert 20 < len(ticks) < int(flagged.sum())  # some grouping happened, not all of it


def test_an_anomaly_outside_the_files_rows_is_refused() -> None:
    ts = stamps(10)
    with pytest.raises(ValueError, match="not a row of the file"):
        event_rows(ts, np.array([ts[3] + np.timedelta64(1, "m")]), np.ones(1), ["warning"])


def test_export_is_one_row_per_data_row_with_one_on_each_events_first_row(
    tmp_path: Path,
) -> None:
    ts = pd.Series(pd.to_datetime(stamps(6)))
    path = write_export(tmp_path, "realX/file.csv", ts, detections(6, np.array([1, 4])))
    assert path == tmp_path / "realX" / "file.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,anomaly_score"
    assert lines[1:3] == ["2014-04-01 00:00:00,0.0", "2014-04-01 00:05:00,1.0"]
    assert [line.split(",")[1] for line in lines[1:]] == ["0.0", "1.0", "0.0", "0.0", "1.0", "0.0"]


def test_ticks_start_at_the_end_of_probation_and_reach_the_last_row() -> None:
    ts = pd.Series(pd.to_datetime(stamps(1000)))
    untils = tick_untils(ts, 200)
    assert untils[0] == ts.iloc[149].to_pydatetime()  # probation: 15% of 1000 rows
    assert untils[1] == ts.iloc[349].to_pydatetime()
    assert untils[-1] == ts.iloc[999].to_pydatetime()
    assert len(untils) == 6


def test_each_monitor_has_the_default_detector(tmp_path: Path) -> None:
    files = [NabFile("realKnownCause/nyc_taxi.csv", tmp_path, 7)]
    monitors = parse_monitors(monitors_spec("sqlite:///x.db", files))
    monitor = monitors.get("nab07-nyc-taxi")
    assert monitor.detector == DetectorConfig()
    assert monitor.source.table == "nab_07"


def _tiny_nab(root: Path) -> int:
    """One 1,000-row file with a spike inside its one labelled window."""
    rng = np.random.default_rng(0)
    n, spike = 1000, 700
    values = 50 + 10 * np.sin(np.arange(n) * 2 * np.pi / 288) + rng.normal(0, 1, n)
    values[spike] = 400.0
    ts = pd.Series(pd.to_datetime(stamps(n)))
    (root / "data" / "realTest").mkdir(parents=True)
    (root / "labels").mkdir()
    pd.DataFrame({"timestamp": ts.dt.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(
        root / "data" / "realTest" / "tiny.csv", index=False
    )
    window = [[str(ts.iloc[spike - 10]), str(ts.iloc[spike + 10])]]
    (root / "labels" / "combined_windows.json").write_text(
        json.dumps({"realTest/tiny.csv": window})
    )
    return spike


@pytest.mark.slow
def test_a_replay_through_the_product_pages_the_spike(tmp_path: Path) -> None:
    spike = _tiny_nab(tmp_path / "nab")
    out = tmp_path / "replay.jsonl"
    export = tmp_path / "export"
    code = main(
        [
            "--nab",
            str(tmp_path / "nab"),
            "--rows-per-tick",
            "200",
            "--workers",
            "1",
            "--export",
            str(export),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    line = json.loads(out.read_text())
    assert line["ticks"] == 6 and line["failed_ticks"] == 0
    # with an events table, the events the ticks stored are the tracker's events
    assert line["events_from_table"] == hasattr(schema, "events")
    assert line["event_mismatches"] == 0
    assert line["per_file"]["realTest/tiny.csv"]["found"] == 1
    score = pd.read_csv(export / "realTest" / "tiny.csv")["anomaly_score"].to_numpy()
    assert len(score) == 1000
    assert score[spike] == 1.0
    assert score[:150].sum() == 0  # nothing is scored in the probationary period


def test_bad_arguments_are_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tiny_nab(tmp_path / "nab")
    assert main(["--nab", str(tmp_path / "nab"), "--files", "("]) == 2
    assert main(["--nab", str(tmp_path / "nab"), "--files", "nothing-matches"]) == 2
    assert main(["--nab", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "not a regular expression" in err[0]
    assert "no NAB file matches" in err[1]
    assert "must name a NAB checkout" in err[2]


def test_compare_scores_another_runs_export_of_the_same_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ts = pd.Series(pd.to_datetime(stamps(2000)))
    windows = [(1000, 1100)]
    ours = FileScore("realX/a.csv", 2000, windows, detections(2000, np.array([1010, 1500])), 3)
    write_export(tmp_path, "realX/a.csv", ts, detections(2000, np.array([1010])))
    theirs = compare([ours], tmp_path)
    assert theirs["standard"] > corpus_scores([ours])["standard"]  # no false positive
    expected = FileScore("realX/a.csv", 2000, windows, detections(2000, np.array([1010])), 0)
    assert theirs == corpus_scores([expected])
    assert "1 in both, 1 only in the replay, 0 only in the export" in capsys.readouterr().out
    write_export(tmp_path, "realX/a.csv", ts[:10], detections(10, np.array([])))
    with pytest.raises(UsageError, match="has 10 rows, the file 2000"):
        compare([ours], tmp_path)


def test_an_export_is_scored_without_replaying_beside_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spike = _tiny_nab(tmp_path / "nab")
    ts = pd.Series(pd.to_datetime(stamps(1000)))
    write_export(tmp_path / "a", "realTest/tiny.csv", ts, detections(1000, np.array([spike])))
    write_export(tmp_path / "b", "realTest/tiny.csv", ts, detections(1000, np.array([300])))
    nab = str(tmp_path / "nab")
    args = ["--nab", nab, "--from-export", str(tmp_path / "a"), "--compare", str(tmp_path / "b")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "found 1, events 1, false events 0" in out
    assert "event starts: 0 in both, 1 only in the replay, 1 only in the export" in out
    assert main(["--nab", nab, "--from-export", str(tmp_path / "missing")]) == 2
    assert "no export of realTest/tiny.csv" in capsys.readouterr().err
