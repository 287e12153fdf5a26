"""The PNGs of one offline run, drawn before anything is stored."""

from __future__ import annotations

from pathlib import Path

from anomwatch.offline.analysis import Run
from anomwatch.offline.names import contamination_label

PLOT_NAMES = ("series", "scores", "reconstruction", "confusion", "pca")


def draw_plots(run: Run, out_dir: Path) -> dict[str, Path]:
    """The run's PNGs in `out_dir/<run key>/`: series, scores, and where they apply
    the autoencoder's reconstruction error, the confusion matrix and a PCA scatter."""
    from detector import plots  # matplotlib only when plotting

    where = Path(out_dir) / run.key
    for name in PLOT_NAMES:  # a rerun must not leave plots of the run it replaces
        (where / f"{name}.png").unlink(missing_ok=True)
    d, data = run.detection, run.data
    title = f"{data.path.name}, contamination {contamination_label(run.contamination)}"
    made = {
        "series": plots.plot_series(
            where / "series.png",
            data.values,
            d.is_anomaly,
            data.labels,
            data.ts,
            data.value_names,
            title,
        ).path,
        "scores": plots.plot_score_panels(
            where / "scores.png", d.components, d.score, d.threshold, data.ts, title
        ).path,
    }
    if "lstm_autoencoder" in d.components:
        made["reconstruction"] = plots.plot_error(
            where / "reconstruction.png",
            d.components["lstm_autoencoder"],
            d.threshold,
            data.ts,
            "lstm_autoencoder reconstruction error (calibrated)",
            title,
        )
    if data.labels is not None:
        made["confusion"] = plots.plot_confusion(
            where / "confusion.png", data.labels, d.is_anomaly, title
        ).path
    if data.values.shape[1] >= 2:
        made["pca"] = plots.plot_pca(
            where / "pca.png", data.values, d.is_anomaly, data.value_names, title
        ).path
    return made
