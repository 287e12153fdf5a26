"""`anomalies show`: the series around one anomaly, read from the monitor's source.

The rows come from the source database (not the store, which keeps only the
anomalous points), through the monitor's SourceReader: reflected, quoted names and
bound parameters, read-only connections. The window is counted in rows, not time,
so it looks the same whatever the series' step: `before` rows up to and including
the anomaly and `after` rows following it, each side bounded by the monitor's
`source.context_lookback` so the query never scans the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sqlalchemy import String, cast, select  # noqa: E402

from anomwatch.config import MonitorConfig  # noqa: E402
from anomwatch.durations import format_span  # noqa: E402
from anomwatch.source import DEFAULT_SERIES, SERIES_COLUMN, TS_COLUMN, SourceReader  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.model_paths import from_stored  # noqa: E402


def parse_series_key(key: str, columns: list[str]) -> dict[str, str]:
    """Invert source.series_key ("host=web-1,metric=cpu") using the known column order.

    Values may themselves hold commas or '=', so each value runs up to the next
    ",<next column>=" marker rather than being split blindly.
    """
    if not columns:
        return {}
    values: dict[str, str] = {}
    rest = key
    for i, name in enumerate(columns):
        prefix = f"{name}="
        if not rest.startswith(prefix):
            raise ValueError(f"series {key!r} does not match the monitor's series {columns}")
        rest = rest[len(prefix) :]
        if i + 1 < len(columns):
            marker = f",{columns[i + 1]}="
            cut = rest.find(marker)
            if cut < 0:
                raise ValueError(f"series {key!r} does not match the monitor's series {columns}")
            values[name], rest = rest[:cut], rest[cut + 1 :]
        else:
            values[name] = rest
    return values


def _series_condition(src: Any, name: str, value: str) -> Any:
    """`column = value` with the value converted to what the column holds."""
    col = src.c[name]
    try:
        python_type = col.type.python_type
    except NotImplementedError:
        python_type = str  # NullType (query sources): compare as text
    if python_type is str:
        return col == value
    if python_type is int:
        try:
            return col == int(value)
        except ValueError:
            pass
    return cast(col, String) == value


def read_window(
    config: MonitorConfig, series: str, ts: datetime, before: int = 48, after: int = 24
) -> pd.DataFrame:
    """The source rows of one series around `ts`: columns ts and the value columns.

    Up to `before` rows with ts' <= ts (the anomaly included) and up to `after` rows
    with ts' > ts, oldest first. Raises SourceError/ConfigError when the source
    cannot be read.
    """
    source = config.source
    dims = parse_series_key(series, source.series) if series != DEFAULT_SERIES else {}
    lookback = source.context_lookback
    with SourceReader(config) as reader:
        src = reader.source_clause()
        ts_col = src.c[source.timestamp]
        columns = [src.c[c] for c in reader.wanted_columns()]
        where = [_series_condition(src, name, value) for name, value in dims.items()]
        earlier = (
            select(*columns)
            .where(
                *where,
                ts_col <= reader.bind_time(ts),
                ts_col > reader.bind_time(ts - lookback),
            )
            .order_by(ts_col.desc())
            .limit(before)
        )
        later = (
            select(*columns)
            .where(
                *where,
                ts_col > reader.bind_time(ts),
                ts_col <= reader.bind_time(ts + lookback),
            )
            .order_by(ts_col)
            .limit(after)
        )
        binds = reader.binds(ts - lookback, ts + lookback)
        parts = [
            reader.run_statement(earlier, binds).frame,
            reader.run_statement(later, binds).frame,
        ]
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame[SERIES_COLUMN] == series]  # exact key, whatever the column types
    frame = frame.sort_values(TS_COLUMN, kind="stable").reset_index(drop=True)
    return frame.drop(columns=[SERIES_COLUMN])


@dataclass(frozen=True)
class Band:
    """The expected value and band over the window, and where it came from."""

    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    origin: str


def model_band(
    frame: pd.DataFrame, values: list[str], artifact_path: str, sha256: str, version: int
) -> Band:
    """Re-score the window with the model that found the anomaly (hash-checked)."""
    from detector import EnsembleDetector

    detector = EnsembleDetector.load(Path(artifact_path), sha256)
    detection = detector.score(
        frame[values].to_numpy(float), ts=frame[TS_COLUMN].to_numpy("datetime64[us]")
    )
    return Band(
        expected=detection.expected[:, 0],
        lower=detection.lower[:, 0],
        upper=detection.upper[:, 0],
        origin=f"model v{version} re-scored over the window",
    )


def stored_band(frame: pd.DataFrame, stored: list[dict[str, Any]]) -> Band:
    """The band the detector stored with each anomaly of the window (gaps elsewhere)."""
    by_ts = {r["ts"]: r for r in stored}
    n = len(frame)
    expected, lower, upper = (np.full(n, np.nan) for _ in range(3))
    for i, t in enumerate(frame[TS_COLUMN]):
        r = by_ts.get(t.to_pydatetime())
        if r is not None:
            expected[i] = np.nan if r["expected"] is None else r["expected"]
            lower[i] = np.nan if r["lower"] is None else r["lower"]
            upper[i] = np.nan if r["upper"] is None else r["upper"]
    return Band(expected, lower, upper, "stored with the anomalies (no model file to re-score)")


def window_figure(
    frame: pd.DataFrame,
    value: str,
    anomaly: dict[str, Any],
    others: list[datetime],
    band: Band,
) -> Figure:
    """The series, its expected band, other stored anomalies, and this anomaly."""
    fig, ax = plt.subplots(figsize=(10, 3.4))
    ts = frame[TS_COLUMN]
    y = frame[value].to_numpy(float)
    ax.plot(ts, y, lw=1, color="tab:blue", label=value)
    finite = np.isfinite(band.lower) & np.isfinite(band.upper)
    if finite.all():
        ax.fill_between(
            ts, band.lower, band.upper, color="tab:green", alpha=0.18, label="expected band"
        )
        ax.plot(ts, band.expected, lw=0.8, ls="--", color="tab:green", label="expected")
    elif finite.any():  # a band only where anomalies were stored: one bar per point
        ax.vlines(
            ts[finite],
            band.lower[finite],
            band.upper[finite],
            color="tab:green",
            lw=3,
            alpha=0.35,
            label="expected band",
        )
        ax.scatter(
            ts[finite], band.expected[finite], marker="_", s=60, color="tab:green", label="expected"
        )
    other = ts.isin([pd.Timestamp(t) for t in others]).to_numpy()
    if other.any():
        ax.scatter(ts[other], y[other], s=16, color="tab:orange", zorder=3, label="other anomalies")
    ax.axvline(anomaly["ts"], color="tab:red", lw=0.8, alpha=0.6)
    ax.scatter(
        [anomaly["ts"]],
        [anomaly["value"]],
        s=70,
        facecolors="none",
        edgecolors="tab:red",
        linewidths=2,
        zorder=4,
        label=f"anomaly {anomaly['id']}",
    )
    ax.set_title(
        f"{anomaly['monitor']} / {anomaly['series']}: anomaly {anomaly['id']} at "
        f"{anomaly['ts']:%Y-%m-%d %H:%M:%S} UTC, score {anomaly['score']:.4f}",
        fontsize=9,
    )
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


class NoPlot(Exception):
    """Why there is no plot of an anomaly (the source cannot be read, no rows)."""


@dataclass(frozen=True)
class AnomalyPlot:
    figure: Figure
    rows: int
    start: datetime
    end: datetime
    band_origin: str

    def describe(self) -> str:
        return (
            f"{self.rows} source rows {format_span(self.start, self.end)}; band: {self.band_origin}"
        )

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figure.savefig(path, dpi=90)
        plt.close(self.figure)
        return path


def anomaly_plot(
    store: Store, config: MonitorConfig, detail: dict[str, Any], before: int = 48, after: int = 24
) -> AnomalyPlot:
    """The plot of one anomaly (a row of feedback.anomaly_detail); raises NoPlot with why not."""
    from anomwatch.errors import AnomwatchError
    from anomwatch.store.anomalies import query_anomalies
    from detector import DetectorError

    try:
        frame = read_window(config, detail["series"], detail["ts"], before, after)
    except (AnomwatchError, ValueError) as exc:
        raise NoPlot(f"the source cannot be read ({exc})") from None
    if frame.empty:
        raise NoPlot("the source has no rows of this series around the anomaly")
    start, end = frame[TS_COLUMN].iloc[0].to_pydatetime(), frame[TS_COLUMN].iloc[-1].to_pydatetime()
    stored = [
        r
        for r in query_anomalies(store, monitor=detail["monitor"], since=start, until=end)
        if r["series"] == detail["series"]
    ]
    band = stored_band(frame, stored)
    if detail.get("model_artifact_path"):
        try:
            band = model_band(
                frame,
                config.source.values,
                from_stored(detail["model_artifact_path"]),
                detail["model_sha256"],
                detail["model_version"],
            )
        except (DetectorError, OSError) as exc:  # file gone or refused: keep the stored band
            band = replace(band, origin=f"{band.origin}; model file not used: {exc}")
    others = [r["ts"] for r in stored if r["id"] != detail["id"]]
    figure = window_figure(frame, config.source.values[0], detail, others, band)
    return AnomalyPlot(figure, len(frame), start, end, band.origin)
