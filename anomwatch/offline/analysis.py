"""One offline run: the detector fitted on a whole file and scored, with its quality
against the file's labels when it has them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from anomwatch.offline.csv_input import CSVData
from anomwatch.offline.names import OfflineError, run_key, table_name
from detector import DetectorConfig, DetectorError, EnsembleDetector
from detector.metrics import average_precision, point_prf
from detector.result import Detection

MIN_ROWS = 50  # fewer points cannot calibrate a detector's scores


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    f1: float
    average_precision: float | None  # None when the labels hold only one class


@dataclass
class Run:
    data: CSVData
    contamination: float
    components: list[str]
    detection: Detection
    quality: Quality | None
    key: str
    table: str
    plots: dict[str, Path] = field(default_factory=dict)
    rows_stored: int = 0

    @property
    def n_anomalies(self) -> int:
        return int(self.detection.is_anomaly.sum())


def analyse(data: CSVData, contamination: float, components: Sequence[str], seed: int = 0) -> Run:
    """Fit the detector on the whole file and score it (an offline, look-back analysis)."""
    if len(data.values) < MIN_ROWS:
        raise OfflineError(
            f"{data.path}: {len(data.values)} data row(s); at least {MIN_ROWS} are needed "
            "to fit and calibrate a detector"
        )
    config = DetectorConfig(
        components=list(components),
        contamination=contamination,
        seed=seed,
        threshold="quantile",  # a detect run is defined by its contamination
        max_events_per_week=None,
        min_train_points=MIN_ROWS,
    )
    try:
        model = EnsembleDetector(config).fit(data.values, ts=data.ts)
        detection = model.score(data.values, ts=data.ts)
    except DetectorError as exc:
        raise OfflineError(f"{data.path}: {exc}") from None
    quality = None
    if data.labels is not None:
        prf = point_prf(data.labels, detection.is_anomaly)
        both = bool(data.labels.any() and not data.labels.all())
        ap = average_precision(data.labels, detection.score) if both else None
        quality = Quality(prf.precision, prf.recall, prf.f1, ap)
    key = run_key(data.path, contamination)
    return Run(data, contamination, list(components), detection, quality, key, table_name(key))
