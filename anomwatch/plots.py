"""PNG plots for digests and reports (matplotlib, no display needed)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@dataclass(frozen=True)
class SeriesPlot:
    """One panel: a series, its expected band, and the points flagged as anomalous."""

    title: str
    ts: pd.Series
    values: np.ndarray
    expected: np.ndarray | None
    lower: np.ndarray | None
    upper: np.ndarray | None
    anomalous: np.ndarray  # bool, aligned with values


@contextmanager
def date_ticks_quiet() -> Iterator[None]:
    """For some ranges (4.5-5 hours or days) the date locator has no interval within
    `maxticks` and falls back to a coarser one, with a UserWarning on every tick's
    stderr; the fallback is fine."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "AutoDateLocator was unable", UserWarning)
        yield


def plot_series(panels: Sequence[SeriesPlot], path: Path, title: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = draw_series(panels, title)
    with date_ticks_quiet():
        fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw_series(panels: Sequence[SeriesPlot], title: str) -> Figure:
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        ax.plot(panel.ts, panel.values, lw=1, color="tab:blue", label="value")
        if panel.lower is not None and panel.upper is not None:
            ax.fill_between(
                panel.ts,
                panel.lower,
                panel.upper,
                color="tab:green",
                alpha=0.15,
                label="expected band",
            )
        if panel.expected is not None:
            ax.plot(panel.ts, panel.expected, lw=0.8, color="tab:green", ls="--")
        if panel.anomalous.any():
            ax.scatter(
                panel.ts[panel.anomalous],
                panel.values[panel.anomalous],
                color="tab:red",
                zorder=3,
                s=18,
                label="anomaly",
            )
        ax.set_title(panel.title, fontsize=9)
        ax.legend(loc="upper left", fontsize=7)
        # full dates at every tick overlap on a month of data: name each unit once
        locator = mdates.AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.suptitle(title)
    with date_ticks_quiet():
        fig.tight_layout()
    return fig
