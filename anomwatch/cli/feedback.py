"""`anomwatch anomalies ack|label|tune`: feedback on anomalies and what it changes."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from anomwatch.cli._app import fail, open_store, require_known_monitor, settings_for
from anomwatch.cli.anomalies import anomalies_app
from anomwatch.cli.options import ByOpt

if TYPE_CHECKING:
    from anomwatch.store.db import Store


def _ids_exist(store: Store, ids: list[int]) -> None:
    from anomwatch.store.feedback import missing_ids

    missing = missing_ids(store, ids)
    if missing:
        fail(f"unknown anomaly id(s): {', '.join(map(str, missing))}")


def _who(by: str | None) -> str:
    import getpass

    return by or getpass.getuser()


@anomalies_app.command("ack")
def ack_anomalies(ids: list[int], by: ByOpt = None) -> None:
    """Acknowledge anomalies (status open → acknowledged)."""
    from anomwatch.store.feedback import acknowledge

    store = open_store(settings_for())
    _ids_exist(store, ids)
    count = acknowledge(store, ids, _who(by))
    typer.echo(f"{count} anomal{'y' if count == 1 else 'ies'} acknowledged")


@anomalies_app.command("label")
def label_anomalies(
    ids: list[int],
    true_positive: Annotated[
        bool, typer.Option("--true-positive", help="a real problem: keep alerting on these")
    ] = False,
    false_positive: Annotated[
        bool, typer.Option("--false-positive", help="noise: tuning should stop these")
    ] = False,
    by: ByOpt = None,
) -> None:
    """Label anomalies as true or false positives (feeds threshold tuning)."""
    from anomwatch.store.feedback import label

    if true_positive == false_positive:
        fail("give exactly one of --true-positive or --false-positive")
    store = open_store(settings_for())
    _ids_exist(store, ids)
    verdict = "false_positive" if false_positive else "true_positive"
    count = label(store, ids, verdict, _who(by))
    typer.echo(f"{count} anomal{'y' if count == 1 else 'ies'} labelled {verdict}")


class ClassifierKind(StrEnum):
    tree = "tree"
    gradient_boosting = "gradient-boosting"


@anomalies_app.command("tune")
def tune_anomalies(
    monitor: str,
    min_labels: Annotated[int, typer.Option(help="labels needed before tuning")] = 20,
    classifier: Annotated[
        ClassifierKind | None,
        typer.Option(help="also train a classifier on the component scores"),
    ] = None,
    by: ByOpt = None,
) -> None:
    """Re-choose MONITOR's score threshold from feedback labels (F1-optimal); later ticks use it.

    With --classifier, also fit a decision tree or gradient boosting model on the
    labelled anomalies' component scores; later ticks store the points it predicts
    to be false positives with suppressed=classifier (kept, never notified).
    """
    from anomwatch.store.tuning import Setting, tune_threshold

    settings = settings_for()
    store = open_store(settings)
    require_known_monitor(store, monitor)
    result = tune_threshold(
        store,
        monitor,
        _who(by),
        min_labels,
        classifier.value if classifier else None,
        settings.models_dir,
    )

    def threshold(s: Setting) -> str:
        return "detector's own" if s.threshold is None else f"{s.threshold:.6f}"

    typer.echo(
        f"monitor {monitor}: tuned from {result.n_labels} labels ({result.n_true} true "
        f"positives, {result.n_labels - result.n_true} false positives)"
    )
    b, a = result.before, result.after
    rows = [
        ("", "before", "after"),
        ("minimum score", threshold(b), threshold(a)),
        ("classifier", b.classifier or "none", a.classifier or "none"),
        ("labelled flagged", str(b.kept), str(a.kept)),
        ("precision", f"{b.precision:.2f}", f"{a.precision:.2f}"),
        ("recall", f"{b.recall:.2f}", f"{a.recall:.2f}"),
    ]
    for name, before, after in rows:
        typer.echo(f"  {name:17} {before:22} {after}")
    if classifier:
        typer.echo(
            "  (the classifier's after figures are cross-validated: each label predicted "
            "by a model not fitted to it)"
        )
