"""`anomwatch detect`: CSV files in, a store table + index row + plots per run out.

Store tests run on SQLite, PostgreSQL and MariaDB (the `store` fixture); the CLI
test goes through the real command with typer's CliRunner.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import MetaData, Table, inspect, select
from typer.testing import CliRunner

from anomwatch.offline import (
    DetectOptions,
    OfflineError,
    analyse,
    checked_table_name,
    detect_files,
    parse_components,
    parse_contaminations,
    read_csv,
    run_key,
    table_name,
)
from anomwatch.store.db import Store
from anomwatch.store.schema import detect_runs

SPIKES = [150, 333, 480]


def write_csv(path: Path, n: int = 600, seed: int = 0, spikes: list[int] = SPIKES) -> Path:
    rng = np.random.default_rng(seed)
    value = np.sin(np.linspace(0, 18, n)) + rng.normal(0, 0.05, n)
    label = np.zeros(n, int)
    for i in spikes:
        value[i] += 6.0
        label[i] = 1
    ts = pd.date_range("2026-03-01", periods=n, freq="5min")
    frame = pd.DataFrame({"timestamp": ts, "value": value, "label": label})
    frame.to_csv(path, index=False)
    return path


def options(tmp_path: Path, *contaminations: float, **kw) -> DetectOptions:  # type: ignore[no-untyped-def]
    return DetectOptions(
        contaminations=list(contaminations),
        components=["iforest"],
        out_dir=tmp_path / "plots",
        **kw,
    )


def table_rows(store: Store, name: str) -> list[dict]:  # type: ignore[type-arg]
    table = Table(name, MetaData(), autoload_with=store.engine)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.line))]


def index_rows(store: Store) -> dict[str, dict]:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        rows = conn.execute(select(detect_runs)).mappings().all()
    return {r["run_key"]: dict(r) for r in rows}


def detect_tables(store: Store) -> set[str]:
    names = inspect(store.engine).get_table_names()
    return {n for n in names if n.startswith("detect_") and n != "detect_runs"}


# -- the store, on every backend -------------------------------------------------------------


def test_injected_spikes_are_flagged_in_the_run_table(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("anomwatch.offline.tables.INSERT_CHUNK", 128)  # several INSERT batches
    csv = write_csv(tmp_path / "cpu load.csv")
    report = detect_files(store, [csv], options(tmp_path, 0.01, label_column="label"))
    assert report.errors == []
    assert detect_tables(store) == {"detect_cpu_load_c0_01"}
    rows = table_rows(store, "detect_cpu_load_c0_01")
    assert len(rows) == 600
    assert set(rows[0]) == {
        "line",
        "ts",
        "value",
        "label",
        "score",
        "score_iforest",
        "is_anomaly",
    }
    flagged = {r["line"] - 2 for r in rows if r["is_anomaly"]}
    assert set(SPIKES) <= flagged
    assert len(flagged) <= 0.02 * 600
    assert [r["line"] - 2 for r in rows if r["label"]] == SPIKES
    assert rows[0]["ts"] == pd.Timestamp("2026-03-01").to_pydatetime()
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)
    index = index_rows(store)["cpu_load-c0.01"]
    assert index["table_name"] == "detect_cpu_load_c0_01"
    assert (index["n_points"], index["rows_stored"]) == (600, 600)
    assert index["n_anomalies"] == len(flagged)
    assert index["recall"] == 1.0
    assert index["precision"] == pytest.approx(3 / len(flagged))
    assert json.loads(index["value_columns"]) == {"value": "value"}
    assert index["contamination"] == 0.01 and index["components"] == "iforest"
    plots = Path(index["plot_dir"])
    assert sorted(p.name for p in plots.iterdir()) == ["confusion.png", "scores.png", "series.png"]


def test_two_settings_two_tables_and_the_higher_one_flags_at_least_as_many(
    store: Store, tmp_path: Path
) -> None:
    csv = write_csv(tmp_path / "m.csv")
    report = detect_files(store, [csv], options(tmp_path, 0.01, 0.03))
    assert report.errors == []
    assert detect_tables(store) == {"detect_m_c0_01", "detect_m_c0_03"}
    index = index_rows(store)
    assert set(index) == {"m-c0.01", "m-c0.03"}
    low = {r["line"] for r in table_rows(store, "detect_m_c0_01") if r["is_anomaly"]}
    high = {r["line"] for r in table_rows(store, "detect_m_c0_03") if r["is_anomaly"]}
    assert low <= high and len(high) > len(low)
    assert index["m-c0.01"]["n_anomalies"] == len(low)
    assert index["m-c0.03"]["n_anomalies"] == len(high)
    assert index["m-c0.01"]["precision"] is None  # no label column given


def test_a_rerun_replaces_the_table_and_its_index_row(store: Store, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "m.csv", n=600)
    first = detect_files(store, [csv], options(tmp_path, 0.02))
    assert first.notes == []
    write_csv(csv, n=400, spikes=[200])
    second = detect_files(store, [csv], options(tmp_path, 0.02))
    assert second.notes == ["replaced the earlier run m-c0.02 (detect_m_c0_02)"]
    assert len(table_rows(store, "detect_m_c0_02")) == 400
    assert detect_tables(store) == {"detect_m_c0_02"}  # no staging table left behind
    (row,) = index_rows(store).values()
    assert row["n_points"] == 400


def test_a_failed_rerun_leaves_the_old_table_and_index_row(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rerun dies after its first chunk of rows is written (say, the disk fills)."""
    import anomwatch.offline.tables as offline

    csv = write_csv(tmp_path / "m.csv", n=600)
    detect_files(store, [csv], options(tmp_path, 0.02))
    before = table_rows(store, "detect_m_c0_02")
    real_chunks = offline._row_chunks

    def chunks_then_crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        for i, chunk in enumerate(real_chunks(*args, **kwargs)):
            if i == 1:
                raise OSError("No space left on device")
            yield chunk

    monkeypatch.setattr(offline, "INSERT_CHUNK", 100)
    monkeypatch.setattr(offline, "_row_chunks", chunks_then_crash)
    write_csv(csv, n=400, spikes=[200])
    with pytest.raises(OSError, match="No space left"):
        detect_files(store, [csv], options(tmp_path, 0.02))
    assert table_rows(store, "detect_m_c0_02") == before
    assert detect_tables(store) == {"detect_m_c0_02"}  # the half-written staging table is gone
    (row,) = index_rows(store).values()
    assert (row["n_points"], row["rows_stored"]) == (600, 600)


def test_only_anomalies_stores_just_the_flagged_points(store: Store, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "m.csv")
    detect_files(store, [csv], options(tmp_path, 0.01, only_anomalies=True))
    rows = table_rows(store, "detect_m_c0_01")
    index = index_rows(store)["m-c0.01"]
    assert len(rows) == index["rows_stored"] == index["n_anomalies"] > 0
    assert all(r["is_anomaly"] for r in rows)


def test_multivariate_file_gets_a_column_per_value_and_a_pca_plot(
    store: Store, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    n = 300
    cpu = rng.normal(50, 5, n)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2026-01-01", periods=n, freq="1min").astype(str),
            "CPU %": cpu,
            "mem-used": cpu * 2 + rng.normal(0, 1, n),
            "host": "web-1",  # text: not a value column
        }
    )
    frame.loc[100, "mem-used"] = 500.0
    frame.to_csv(tmp_path / "hosts.csv", index=False)
    report = detect_files(store, [tmp_path / "hosts.csv"], options(tmp_path, 0.01))
    assert report.errors == []
    rows = table_rows(store, "detect_hosts_c0_01")
    assert {"value_cpu", "value_mem_used"} <= set(rows[0])
    assert rows[100]["is_anomaly"]
    index = index_rows(store)["hosts-c0.01"]
    assert json.loads(index["value_columns"]) == {
        "value_cpu": "CPU %",
        "value_mem_used": "mem-used",
    }
    assert (Path(index["plot_dir"]) / "pca.png").stat().st_size > 5_000


def test_downgrade_drops_the_run_tables_with_their_index(store: Store, tmp_path: Path) -> None:
    detect_files(store, [write_csv(tmp_path / "m.csv")], options(tmp_path, 0.01))
    assert detect_tables(store) == {"detect_m_c0_01"}
    store.downgrade("0003")
    tables = set(inspect(store.engine).get_table_names())
    assert "detect_runs" not in tables and "detect_m_c0_01" not in tables
    store.migrate()
    assert index_rows(store) == {}


# -- the command --------------------------------------------------------------------------


def test_bad_files_exit_2_with_clear_errors_while_good_files_still_run(
    databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anomwatch.cli import app

    url = databases.new("detect")
    Store(url).migrate()
    monkeypatch.setenv("ANOMWATCH_STORE_URL", url)
    good = write_csv(tmp_path / "good.csv")
    (tmp_path / "words.csv").write_text("timestamp,host\n2026-01-01,a\n2026-01-02,b\n")
    (tmp_path / "badtime.csv").write_text(
        "timestamp,value\n"
        + "".join(f"2026-01-01 00:{i:02d},{i}\n" for i in range(50))
        + "yesterday,3\n"
    )
    out = tmp_path / "plots"
    result = CliRunner().invoke(
        app,
        [
            "detect",
            str(tmp_path / "missing.csv"),
            str(tmp_path / "words.csv"),
            str(good),
            str(tmp_path / "badtime.csv"),
            "--contamination",
            "0.01,0.02",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    err = result.stderr
    assert f"error: {tmp_path / 'missing.csv'}: no such file" in err
    assert "words.csv: no numeric value column besides the timestamp 'timestamp'" in err
    assert "badtime.csv: 1 timestamp(s) in column 'timestamp' cannot be parsed, first " in err
    assert "'yesterday' on line 52" in err
    assert "2 run(s) written" in err and "3 file(s) failed" in err
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "file",
        "contamination",
        "points",
        "anomalies",
        "table",
        "plots",
    ]
    store = Store(url)
    assert detect_tables(store) == {"detect_good_c0_01", "detect_good_c0_02"}
    flagged = {
        name: sum(bool(r["is_anomaly"]) for r in table_rows(store, name))
        for name in ("detect_good_c0_01", "detect_good_c0_02")
    }
    assert lines[1].split()[:5] == [
        "good.csv",
        "0.01",
        "600",
        str(flagged["detect_good_c0_01"]),  # the points flagged in the run's table
        "detect_good_c0_01",
    ]
    assert lines[2].split()[:5] == [
        "good.csv",
        "0.02",
        "600",
        str(flagged["detect_good_c0_02"]),
        "detect_good_c0_02",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["good-c0.01", "good-c0.02"]
    store.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--contamination", "0.01,0.6"], "--contamination: 0.6 is outside (0, 0.5)"),
        (["--contamination", "0"], "--contamination: 0 is outside (0, 0.5)"),
        (["--contamination", "1%"], "--contamination: '1%' is not a number"),
        (["--components", "iforest,prophet"], "unknown component(s) prophet; choose from"),
    ],
)
def test_bad_options_exit_2_before_anything_is_written(
    sqlite_databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args, message
) -> None:
    from anomwatch.cli import app

    url = sqlite_databases.new("detect")
    Store(url).migrate()
    monkeypatch.setenv("ANOMWATCH_STORE_URL", url)
    good = write_csv(tmp_path / "good.csv")
    result = CliRunner().invoke(app, ["detect", str(good), "--out", str(tmp_path / "p"), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output
    assert detect_tables(Store(url)) == set() and not (tmp_path / "p").exists()


def test_unmigrated_store_is_a_clear_error(sqlite_databases, tmp_path, monkeypatch) -> None:
    from anomwatch.cli import app

    monkeypatch.setenv("ANOMWATCH_STORE_URL", sqlite_databases.new("empty"))
    result = CliRunner().invoke(app, ["detect", str(write_csv(tmp_path / "g.csv"))])
    assert result.exit_code == 2
    assert "run `anomwatch init`" in result.stderr


# -- reading files and naming runs (no database) ------------------------------------------


def test_timestamps_are_auto_detected_and_rows_sorted_by_time(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text(
        "when,v,label\n2026-01-01T00:10:00Z,3,0\n2026-01-01T00:00:00Z,1,1\n2026-01-01T01:05:00+01:00,2,0\n"
    )
    data = read_csv(tmp_path / "x.csv", label_column="label")
    assert data.value_names == ["v"]
    assert data.values[:, 0].tolist() == [1.0, 2.0, 3.0]  # 01:05+01:00 is 00:05 UTC
    assert data.line.tolist() == [3, 4, 2]
    assert data.labels is not None and data.labels.tolist() == [True, False, False]
    assert data.sorted_by_time
    assert str(data.ts[0]) == "2026-01-01T00:00:00.000000"


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (
            "a,b\nx,1\ny,2\n",
            {},
            "found no timestamp column (columns: a, b); name it with --ts-column",
        ),
        (
            "ts,v\n2026-01-01,1\n2026-01-02,\n",
            {},
            "value column 'v' has 1 empty or non-numeric value(s), first 'nan' on line 3",
        ),
        (
            "ts,v\n2026-01-01,1\n",
            {"value_columns": ["cpu"]},
            "--value-column 'cpu' is not a column (columns: ts, v)",
        ),
        (
            "ts,v,l\n2026-01-01,1,yes\n",
            {"label_column": "l"},
            "label column 'l' must hold 0/1 or true/false, found 'yes' on line 2",
        ),
        ("ts,v\n", {}, "has a header but no data rows"),
        ("", {}, "not a readable CSV file"),
    ],
)
def test_bad_csv_is_a_specific_error(tmp_path: Path, content, kwargs, message) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(OfflineError) as info:
        read_csv(path, **kwargs)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_too_few_rows_is_a_clear_error(tmp_path: Path, sqlite_databases) -> None:
    store = Store(sqlite_databases.new("few"))
    store.migrate()
    report = detect_files(
        store, [write_csv(tmp_path / "few.csv", n=30, spikes=[])], options(tmp_path, 0.01)
    )
    assert report.runs == []
    assert report.errors == [
        f"{tmp_path / 'few.csv'}: 30 data row(s); at least 50 are needed to fit and calibrate "
        "a detector"
    ]


def test_run_keys_and_table_names() -> None:
    assert run_key(Path("/data/Machine Temp (2014).csv"), 0.01) == "machine_temp_2014-c0.01"
    assert table_name("machine_temp_2014-c0.01") == "detect_machine_temp_2014_c0_01"
    assert run_key(Path("x.csv"), 0.00001) == "x-c0.00001"  # never 1e-05
    long_a = table_name(run_key(Path("a" * 80 + "_one.csv"), 0.01))
    long_b = table_name(run_key(Path("a" * 80 + "_two.csv"), 0.01))
    assert len(long_a) <= 55 and len(long_b) <= 55 and long_a != long_b
    assert long_a.endswith("_c0_01")
    for unsafe in ["detect_runs", "users", 'detect_x_c0_01"; drop table anomalies; --']:
        with pytest.raises(OfflineError, match="not a valid detect run table name"):
            checked_table_name(unsafe)


def test_named_columns_override_detection(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("id,created,cpu,mem\n1,2026-01-02,5,7\n2,2026-01-01,6,8\n")
    data = read_csv(tmp_path / "x.csv", ts_column="created", value_columns=["mem"])
    assert data.value_names == ["mem"] and data.values[:, 0].tolist() == [8.0, 7.0]
    assert str(data.ts[0]).startswith("2026-01-01")


def test_labels_without_any_anomaly_give_no_average_precision(tmp_path: Path) -> None:
    data = read_csv(write_csv(tmp_path / "n.csv", spikes=[]), label_column="label")
    run = analyse(data, 0.01, ["iforest"])
    assert run.quality is not None
    assert run.quality.average_precision is None and run.quality.recall == 0.0
    assert run.n_anomalies > 0 and run.quality.precision == 0.0


def test_option_parsing() -> None:
    assert parse_contaminations(" 0.01, 0.02,0.01") == [0.01, 0.02]
    assert parse_components(None) == ["iforest"]
    assert parse_components("robust_residual, iforest") == ["robust_residual", "iforest"]
