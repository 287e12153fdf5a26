"""The PNG plots of digests, reports and previews."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from anomwatch.plots import SeriesPlot, draw_series, plot_series


@pytest.mark.parametrize("days", [0.25, 3, 30])
def test_time_axis_labels_do_not_overlap(days: float) -> None:
    """A month of 5-minute rows used to print full dates at every tick, the last two
    running into each other ('2026-11-292026-12-01')."""
    ts = pd.Series(pd.date_range("2026-11-01", periods=int(days * 288), freq="5min"))
    values = np.sin(np.arange(len(ts)) / 20)
    panel = SeriesPlot("s", ts, values, None, None, None, np.zeros(len(ts), bool))
    fig = draw_series([panel], "t")
    fig.canvas.draw()
    labels = [t for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert len(labels) >= 3
    boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
    plt.close(fig)


def test_a_range_the_date_locator_has_no_interval_for_draws_without_a_warning(tmp_path) -> None:
    # 4.25 days (with the axis margins, 4.7): too long for 10 hourly ticks of at most 12 h,
    # too short for daily ones; the locator falls back, and used to warn on every plot
    ts = pd.Series(pd.date_range("2026-01-01", periods=100, freq=pd.Timedelta(hours=102) / 100))
    panel = SeriesPlot("x", ts, np.arange(100.0), None, None, None, np.zeros(100, bool))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = plot_series([panel], tmp_path / "p.png", "t")
    assert path.stat().st_size > 1000
    assert not [w for w in caught if "AutoDateLocator" in str(w.message)]
