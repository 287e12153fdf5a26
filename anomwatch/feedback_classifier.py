"""A supervised filter trained on feedback labels: which flagged points are real?

The detector's score alone cannot tell a false positive from a real incident when
both score high; the per-component scores often can (e.g. the Isolation Forest
fires on a rare but harmless level the residual component finds normal). Once a
monitor has enough labels of both kinds, `anomwatch anomalies tune --classifier`
fits a small decision tree or gradient boosting model on the component scores
(plus the ensemble score) of the labelled anomalies. Later ticks store the
points it predicts to be false positives with ``suppressed = 'classifier'``: they
are kept and listed, but never notified. The model file is written with the
project's manifest (sha256 per file, the manifest's hash in the registry row) and
refused when it does not match.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, insert, select, update

from anomwatch.durations import utcnow
from anomwatch.store.db import Store
from anomwatch.store.model_paths import from_stored, to_stored
from anomwatch.store.schema import classifiers
from detector.errors import ModelIntegrityError
from detector.persistence import read_artifact, write_artifact

log = logging.getLogger("anomwatch.classifier")

KINDS = ("tree", "gradient-boosting")
MIN_PER_CLASS = 5  # cross-validation needs a few of each kind in every fold
SUPPRESSED = "classifier"


def make_estimator(kind: str) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.tree import DecisionTreeClassifier

    if kind == "tree":
        return DecisionTreeClassifier(
            max_depth=3, min_samples_leaf=2, class_weight="balanced", random_state=0
        )
    if kind == "gradient-boosting":
        return GradientBoostingClassifier(n_estimators=100, max_depth=2, random_state=0)
    raise ValueError(f"unknown classifier {kind!r}; use one of {', '.join(KINDS)}")


def feature_names(components: Sequence[str]) -> list[str]:
    """The model's input columns: every component seen in the labels, then the score."""
    names: set[str] = set()
    for text in components:
        names.update(json.loads(text))
    return [*sorted(names), "score"]


def feature_matrix(
    features: list[str], components: Sequence[str], scores: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Rows of component scores in `features` order (a missing component counts 0)."""
    out = np.zeros((len(scores), len(features)))
    for i, (text, score) in enumerate(zip(components, scores, strict=True)):
        parts = json.loads(text)
        for j, name in enumerate(features):
            out[i, j] = float(score) if name == "score" else float(parts.get(name, 0.0))
    return out


def cross_validated_predictions(kind: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions: what the classifier does on labels it did not see."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = min(5, int(np.bincount(y.astype(int)).min()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    return np.asarray(cross_val_predict(make_estimator(kind), X, y, cv=splitter), bool)


@dataclass(frozen=True)
class LoadedClassifier:
    id: int
    version: int
    kind: str
    features: list[str]
    estimator: Any

    @property
    def name(self) -> str:
        return f"{self.kind} v{self.version}"

    def keeps(self, components: Sequence[str], scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """True where the classifier predicts a true positive."""
        if not len(scores):
            return np.zeros(0, bool)
        X = feature_matrix(self.features, components, scores)
        return np.asarray(self.estimator.predict(X), bool)


_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def active_classifier(store: Store, monitor: str) -> LoadedClassifier | None:
    """The monitor's active classifier, hash-checked (raises ModelIntegrityError)."""
    with store.begin() as conn:
        row = conn.execute(
            select(classifiers).where(
                classifiers.c.monitor == monitor, classifiers.c.active.is_(True)
            )
        ).first()
    if row is None:
        return None
    key = (row.artifact_path, row.sha256)
    with _cache_lock:
        estimator = _cache.get(key)
    if estimator is None:
        state, _ = read_artifact(Path(from_stored(row.artifact_path)), row.sha256)
        estimator = state["estimator"]
        with _cache_lock:
            _cache[key] = estimator
    return LoadedClassifier(
        int(row.id), int(row.version), row.kind, json.loads(row.features), estimator
    )


def save_classifier(
    conn: Connection,
    *,
    monitor: str,
    kind: str,
    features: list[str],
    estimator: Any,
    n_labels: int,
    metrics: dict[str, Any],
    who: str,
    models_dir: Path,
) -> int:
    """Write the artifact and make it the monitor's only active classifier; its version."""
    current = conn.execute(
        select(func.max(classifiers.c.version)).where(classifiers.c.monitor == monitor)
    ).scalar()
    version = int(current or 0) + 1
    directory = models_dir / monitor / "feedback-classifier" / f"v{version}"
    manifest = {"kind": kind, "features": features, "n_labels": n_labels, "metrics": metrics}
    sha256 = write_artifact(directory, {"estimator": estimator, "features": features}, manifest)
    conn.execute(
        update(classifiers)
        .where(classifiers.c.monitor == monitor, classifiers.c.active.is_(True))
        .values(active=False)
    )
    conn.execute(
        insert(classifiers).values(
            monitor=monitor,
            version=version,
            kind=kind,
            features=json.dumps(features),
            n_labels=n_labels,
            artifact_path=to_stored(directory),
            sha256=sha256,
            metrics=json.dumps(metrics),
            trained_by=who,
            trained_at=utcnow(),
            active=True,
        )
    )
    return version


def suppress_predicted_false_positives(store: Store, monitor: str, records: list[Any]) -> list[Any]:
    """Mark the records the active classifier rejects with suppressed='classifier'.

    Records already suppressed (backfill, repeat, snooze) are left as they are. A
    classifier file that is missing or fails its hash check suppresses nothing: the
    anomalies are notified as if there were no classifier, and a warning is logged.
    """
    candidates = [i for i, r in enumerate(records) if r.suppressed is None]
    if not candidates:
        return records
    try:
        model = active_classifier(store, monitor)
    except (ModelIntegrityError, OSError, KeyError) as exc:
        log.warning("monitor %s: feedback classifier not used: %s", monitor, exc)
        return records
    if model is None:
        return records
    keep = model.keeps(
        [records[i].components for i in candidates], [records[i].score for i in candidates]
    )
    out = list(records)
    for i, kept in zip(candidates, keep, strict=True):
        if not kept:
            out[i] = replace(out[i], suppressed=SUPPRESSED)
    return out
