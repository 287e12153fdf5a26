"""PNG plots of a detection, for analysts (offline `anomwatch detect`) and reports.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend
switch), so plotting works headless and from several threads. Every function
checks that its arrays line up and returns the numbers it actually drew (read back
from the figure's artists), so tests and callers can verify the picture, not just
that a file appeared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.metrics import confusion_matrix
from sklearn.preprocessing import StandardScaler

from detector.errors import DetectorError

MAX_FEATURE_PANELS = 8  # beyond this a series plot becomes unreadable: use the PCA plot


@dataclass(frozen=True)
class SeriesPlot:
    path: Path
    panels: int
    detected: int  # points drawn as detected anomalies (first panel)
    true: int  # points drawn as true anomalies (first panel)


@dataclass(frozen=True)
class ScorePanels:
    path: Path
    titles: list[str]  # one per panel, components first, the ensemble last


@dataclass(frozen=True)
class ConfusionPlot:
    path: Path
    counts: np.ndarray  # 2x2 cell values as drawn: rows = true (normal, anomaly), cols = detected
    annotations: dict[tuple[int, int], int]  # (row, col) -> the number written in that cell


@dataclass(frozen=True)
class PCAScatter:
    path: Path
    n_components: int
    explained_variance: tuple[float, float]  # ratio per axis
    inliers: int  # points drawn as inliers
    outliers: int  # points drawn as outliers


def _length(name: str, array: np.ndarray, n: int) -> None:
    if len(array) != n:
        raise DetectorError(
            f"{name} has {len(array)} points but the series has {n}; "
            "pass arrays of the same length (one value per point)"
        )


def _x_axis(x: Any, n: int) -> np.ndarray:
    if x is None:
        return np.arange(n)
    x = np.asarray(x)
    _length("x (timestamps)", x, n)
    return x


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    return path


def _points(ax: Axes, label: str) -> int:
    """How many points the scatter with this legend label drew."""
    drawn = [np.asarray(c.get_offsets()) for c in ax.collections if c.get_label() == label]
    return int(sum(len(offsets) for offsets in drawn))


def plot_series(
    path: Path,
    values: np.ndarray,
    detected: np.ndarray,
    labels: np.ndarray | None = None,
    x: Any = None,
    names: list[str] | None = None,
    title: str = "",
) -> SeriesPlot:
    """The series with detected anomalies (red x) and true anomalies (hollow circles)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise DetectorError(f"values must be (points,) or (points, features), got {values.shape}")
    n, features = values.shape
    detected = np.asarray(detected, dtype=bool)
    _length("detected", detected, n)
    if labels is not None:
        labels = np.asarray(labels, dtype=bool)
        _length("labels", labels, n)
    xs = _x_axis(x, n)
    names = names or [f"value {i}" for i in range(features)]
    if len(names) != features:
        raise DetectorError(f"{len(names)} name(s) for {features} value column(s)")
    shown = min(features, MAX_FEATURE_PANELS)
    fig = Figure(figsize=(11, 2.4 * shown + 0.6))
    axes = fig.subplots(shown, 1, squeeze=False, sharex=True)[:, 0]
    for i, ax in enumerate(axes):
        ax.plot(xs, values[:, i], lw=0.8, color="tab:blue", label=names[i])
        if labels is not None and labels.any():
            ax.scatter(
                xs[labels],
                values[labels, i],
                s=46,
                facecolors="none",
                edgecolors="tab:orange",
                linewidths=1.3,
                zorder=3,
                label="true anomaly",
            )
        if detected.any():
            ax.scatter(
                xs[detected],
                values[detected, i],
                s=22,
                marker="x",
                color="tab:red",
                zorder=4,
                label="detected",
            )
        ax.legend(loc="upper left", fontsize=7)
    if features > shown:
        axes[-1].set_xlabel(f"{features - shown} more value column(s) not shown; see the PCA plot")
    fig.suptitle(title or "series")
    drawn = SeriesPlot(
        _save(fig, path),
        panels=shown,
        detected=_points(axes[0], "detected"),
        true=_points(axes[0], "true anomaly"),
    )
    return drawn


def plot_score_panels(
    path: Path,
    components: Mapping[str, np.ndarray],
    score: np.ndarray,
    threshold: float,
    x: Any = None,
    title: str = "",
) -> ScorePanels:
    """One panel per component's calibrated score, then the ensemble with its threshold."""
    score = np.asarray(score, dtype=float)
    n = len(score)
    for name, values in components.items():
        _length(f"component {name!r}", np.asarray(values), n)
    xs = _x_axis(x, n)
    fig = Figure(figsize=(11, 1.9 * (len(components) + 1) + 0.6))
    axes = fig.subplots(len(components) + 1, 1, squeeze=False, sharex=True)[:, 0]
    titles = []
    for ax, (name, values) in zip(axes, components.items(), strict=False):
        ax.plot(xs, values, lw=0.7, color="tab:purple")
        ax.axhline(threshold, color="tab:red", ls="--", lw=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"component {name} (calibrated score)", fontsize=9)
        titles.append(ax.get_title())
    ax = axes[-1]
    ax.plot(xs, score, lw=0.7, color="black", label="ensemble score")
    ax.axhline(threshold, color="tab:red", ls="--", lw=0.9, label=f"threshold {threshold:.4g}")
    flagged = score >= threshold
    if flagged.any():
        ax.scatter(xs[flagged], score[flagged], s=10, color="tab:red", zorder=3)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("ensemble score", fontsize=9)
    ax.legend(loc="lower left", fontsize=7)
    titles.append(ax.get_title())
    fig.suptitle(title or "scores")
    return ScorePanels(_save(fig, path), titles)


def plot_error(
    path: Path,
    error: np.ndarray,
    threshold: float,
    x: Any = None,
    name: str = "reconstruction error",
    title: str = "",
) -> Path:
    """One error/score curve (e.g. the autoencoder's reconstruction error) and its threshold."""
    error = np.asarray(error, dtype=float)
    if error.ndim != 1:
        raise DetectorError(f"error must be one value per point, got shape {error.shape}")
    xs = _x_axis(x, len(error))
    fig = Figure(figsize=(11, 3.2))
    ax = fig.subplots()
    ax.plot(xs, error, lw=0.7, color="tab:purple", label=name)
    ax.axhline(threshold, color="tab:red", ls="--", lw=0.9, label=f"threshold {threshold:.4g}")
    above = error >= threshold
    if above.any():
        ax.scatter(xs[above], error[above], s=12, color="tab:red", zorder=3, label="above")
    ax.legend(loc="upper left", fontsize=7)
    fig.suptitle(title or name)
    return _save(fig, path)


def plot_confusion(
    path: Path, labels: np.ndarray, detected: np.ndarray, title: str = ""
) -> ConfusionPlot:
    """A 2x2 heatmap of true vs detected anomalies, each cell annotated with its count."""
    labels = np.asarray(labels, dtype=bool)
    detected = np.asarray(detected, dtype=bool)
    _length("detected", detected, len(labels))
    counts = confusion_matrix(labels, detected, labels=[False, True])
    fig = Figure(figsize=(4.4, 3.8))
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    names = ["normal", "anomaly"]
    ax.set_xticks([0, 1], names)
    ax.set_yticks([0, 1], names)
    ax.set_xlabel("detected")
    ax.set_ylabel("true")
    middle = counts.max() / 2 if counts.max() else 0.5
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if count > middle else "black"
        ax.text(col, row, str(int(count)), ha="center", va="center", color=colour)
    fig.suptitle(title or "confusion matrix")
    written = {
        (int(round(t.get_position()[1])), int(round(t.get_position()[0]))): int(t.get_text())
        for t in ax.texts
    }
    return ConfusionPlot(_save(fig, path), np.asarray(image.get_array(), dtype=int), written)


def plot_pca(
    path: Path,
    X: np.ndarray,
    detected: np.ndarray,
    names: list[str] | None = None,
    title: str = "",
) -> PCAScatter:
    """Multivariate points projected to 2 principal components (after StandardScaler):
    inliers grey, outliers red."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] < 2:
        raise DetectorError(
            f"a PCA scatter needs at least 2 value columns, got shape {X.shape}; "
            "plot a single series with plot_series"
        )
    detected = np.asarray(detected, dtype=bool)
    _length("detected", detected, len(X))
    if len(X) < 2:
        raise DetectorError("a PCA scatter needs at least 2 points")
    pca = PCA(n_components=2)
    coords = pca.fit_transform(StandardScaler().fit_transform(X))
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.scatter(coords[~detected, 0], coords[~detected, 1], s=6, color="0.6", label="inlier")
    ax.scatter(coords[detected, 0], coords[detected, 1], s=18, color="tab:red", label="outlier")
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({ratio[0]:.1%} of variance)")
    ax.set_ylabel(f"PC2 ({ratio[1]:.1%} of variance)")
    ax.legend(loc="best", fontsize=7)
    features = ", ".join(names) if names else f"{X.shape[1]} features"
    fig.suptitle(title or f"PCA of {features}", fontsize=10)
    return PCAScatter(
        _save(fig, path),
        n_components=int(pca.n_components_),
        explained_variance=(float(ratio[0]), float(ratio[1])),
        inliers=_points(ax, "inlier"),
        outliers=_points(ax, "outlier"),
    )
