"""Plots draw what they are given: checked on the PNG files and on the drawn artists."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from detector import DetectorConfig, DetectorError, EnsembleDetector
from detector.plots import (
    plot_confusion,
    plot_error,
    plot_pca,
    plot_score_panels,
    plot_series,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; fails unless the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert len(data) > 5_000, f"{path} is suspiciously small ({len(data)} bytes)"
    return width, height


def spiky(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = np.sin(np.linspace(0, 12, n)) + rng.normal(0, 0.05, n)
    labels = np.zeros(n, bool)
    labels[[60, 200, 333]] = True
    values[labels] += 4.0
    return values, labels


def test_series_plot_marks_true_and_detected_points(tmp_path: Path) -> None:
    values, labels = spiky()
    detected = labels.copy()
    detected[10] = True  # one false positive
    ts = np.datetime64("2026-01-01T00:00") + np.arange(len(values)) * np.timedelta64(5, "m")
    drawn = plot_series(tmp_path / "series.png", values, detected, labels, x=ts, title="t")
    assert (drawn.detected, drawn.true, drawn.panels) == (4, 3, 1)
    width, height = png_size(drawn.path)
    assert width > 600 and height > 150


def test_multivariate_series_gets_one_panel_per_column(tmp_path: Path) -> None:
    X = np.random.default_rng(1).normal(size=(100, 3))
    drawn = plot_series(tmp_path / "s.png", X, np.zeros(100, bool), names=["a", "b", "c"])
    assert drawn.panels == 3 and drawn.detected == 0 and drawn.true == 0
    _, height = png_size(drawn.path)
    _, one_panel = png_size(plot_series(tmp_path / "one.png", X[:, 0], np.zeros(100, bool)).path)
    assert height > 2 * one_panel


def test_score_panels_one_per_component_plus_ensemble(tmp_path: Path) -> None:
    values, _ = spiky()
    config = DetectorConfig(components=["iforest", "robust_residual"], contamination=0.01)
    detection = EnsembleDetector(config).fit(values[:, None]).score(values[:, None])
    drawn = plot_score_panels(
        tmp_path / "scores.png", detection.components, detection.score, detection.threshold
    )
    assert drawn.titles == [
        "component iforest (calibrated score)",
        "component robust_residual (calibrated score)",
        "ensemble score",
    ]
    _, height = png_size(drawn.path)
    assert height > 400


def test_error_plot_is_a_png(tmp_path: Path) -> None:
    error = np.abs(np.random.default_rng(2).normal(size=300))
    width, _ = png_size(plot_error(tmp_path / "err.png", error, threshold=2.0))
    assert width > 600


def test_confusion_matrix_draws_sklearns_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    labels = rng.random(500) < 0.1
    detected = labels ^ (rng.random(500) < 0.05)  # mostly right, some errors both ways
    drawn = plot_confusion(tmp_path / "cm.png", labels, detected)
    expected = confusion_matrix(labels, detected, labels=[False, True])
    assert drawn.counts.tolist() == expected.tolist()
    tp = int((labels & detected).sum())
    fp = int((~labels & detected).sum())
    fn = int((labels & ~detected).sum())
    tn = int((~labels & ~detected).sum())
    assert drawn.annotations == {(0, 0): tn, (0, 1): fp, (1, 0): fn, (1, 1): tp}
    png_size(drawn.path)


def test_confusion_matrix_without_any_anomaly_still_has_four_cells(tmp_path: Path) -> None:
    drawn = plot_confusion(tmp_path / "cm.png", np.zeros(50, bool), np.zeros(50, bool))
    assert drawn.counts.tolist() == [[50, 0], [0, 0]]


def test_pca_scatter_uses_two_components_and_draws_every_outlier(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    detected = np.zeros(300, bool)
    detected[rng.choice(300, 17, replace=False)] = True
    drawn = plot_pca(tmp_path / "pca.png", X, detected, names=["a", "b", "c", "d"])
    assert drawn.n_components == 2
    assert (drawn.inliers, drawn.outliers) == (283, 17)
    assert 0 < sum(drawn.explained_variance) <= 1.0 + 1e-9
    assert drawn.explained_variance[0] >= drawn.explained_variance[1]
    png_size(drawn.path)


def test_pca_scatter_refuses_a_single_column(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="at least 2 value columns"):
        plot_pca(tmp_path / "pca.png", np.zeros((10, 1)), np.zeros(10, bool))
    assert not (tmp_path / "pca.png").exists()


@pytest.mark.parametrize(
    "call",
    [
        lambda p: plot_series(p, np.zeros(10), np.zeros(9, bool)),
        lambda p: plot_series(p, np.zeros(10), np.zeros(10, bool), labels=np.zeros(11)),
        lambda p: plot_series(p, np.zeros(10), np.zeros(10, bool), x=np.arange(5)),
        lambda p: plot_score_panels(p, {"iforest": np.zeros(8)}, np.zeros(10), 0.99),
        lambda p: plot_confusion(p, np.zeros(10, bool), np.zeros(12, bool)),
        lambda p: plot_pca(p, np.zeros((10, 2)), np.zeros(3, bool)),
    ],
)
def test_mismatched_lengths_are_a_clear_error_and_write_nothing(tmp_path: Path, call) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.png"
    with pytest.raises(DetectorError, match=r"has \d+ points but the series has \d+"):
        call(path)
    assert not path.exists()
