"""The PNG plots of digests, reports and previews."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from anomwatch.plots import SeriesPlot, draw_series


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
