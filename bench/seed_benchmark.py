"""Seed benchmark: sine + noise with 5% injected shifts, 10 random seeds.

    .venv/bin/python bench/seed_benchmark.py [--seeds 10] [--first-seed 10] [--epochs 30]

The headline row, "as shipped", is `DetectorConfig()` untouched (its defaults were
chosen on seeds 0-9, so figures are reported on seeds 10-19: `--first-seed 10`),
fitted with the rows' timestamps (one minute apart) and flagging with its own
threshold, as a monitor does.

Data (as published with the recipe this product grew from): x = sin(linspace(0, 10,
1000)) + N(0, 0.1); 5% of the points, chosen at random, are shifted by N(0, 0.5);
those points are the labels. Every method is fitted on the series itself
(unsupervised, contaminated, as the recipe did) and flags with an unsupervised
threshold. "recommended" is the configuration RECOMMENDED below (Isolation Forest
+ robust residual with a local trend + level shift, weights learned from injected
anomalies, the robust sigma threshold: median + 3.5 x 1.4826 x MAD of the
combined training errors); its variants change one setting. "alone" rows use one
member's errors with the same sigma threshold. "best F1" uses the labels (the
F1-optimal threshold: an upper bound for any threshold rule), AP needs no
threshold. The quantile rows use contamination = the known rate, 0.05.

"published" re-implements the recipe's ensemble: an Isolation Forest
(contamination 0.05) on the values and an LSTM(50)-Dropout-LSTM(25)-Dropout-Dense
forecaster on 10-point windows; each score is min-max normalised over the batch,
the two are averaged and the top 5% are flagged. Only its length bug is fixed
(the LSTM yields n - 10 scores; the first 10 points get the LSTM's minimum).
The oracles know the clean sine: score = |x - sin(t)|, which is the best possible
ranking here (the likelihood ratio of N(0, 0.1^2 + 0.5^2) to N(0, 0.1^2) grows
with it); flagged as the top 5%, at 3 noise sigmas (0.3, the noise level being
known), or at the F1-optimal threshold (~0.73: the ceiling; 16% of the shifts are
smaller than the noise and cannot be found by anyone).

Prints mean (std) over seeds and appends a JSON line to /tmp/anomwatch-bench/seed.jsonl
(to bench/results/seed.jsonl with --record).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector import (  # noqa: E402
    DetectorConfig,
    EnsembleDetector,
    baselines,  # noqa: E402
)
from detector.metrics import average_precision, best_f1_threshold, point_prf  # noqa: E402
from detector.thresholds import sigma_threshold  # noqa: E402
from detector.windows import windows  # noqa: E402

RECORDED = Path(__file__).resolve().parent / "results" / "seed.jsonl"
SCRATCH = Path("/tmp/anomwatch-bench/seed.jsonl")  # default: outside tracked files
RATE = 0.05


def make_series(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 10, 1000)
    clean = np.sin(t)
    x = clean + rng.normal(0, 0.1, t.size)
    labels = np.zeros(t.size, bool)
    idx = rng.choice(t.size, int(RATE * t.size), replace=False)
    labels[idx] = True
    x[idx] += rng.normal(0, 0.5, idx.size)
    return x, labels, clean


def top_rate(score: np.ndarray) -> np.ndarray:
    return score >= np.quantile(score, 1 - RATE)


def published(x: np.ndarray, seed: int, epochs: int) -> np.ndarray:
    import keras
    from sklearn.ensemble import IsolationForest

    keras.utils.set_random_seed(seed)
    forest = IsolationForest(contamination=RATE, random_state=seed).fit(x[:, None])
    if_score = -forest.decision_function(x[:, None])
    w = 10
    inputs, targets = windows(x[:-1, None], w), x[w:]
    model = keras.Sequential(
        [
            keras.Input((w, 1)),
            keras.layers.LSTM(50, return_sequences=True),
            keras.layers.Dropout(0.2),
            keras.layers.LSTM(25),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(inputs, targets, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0)
    err = np.abs(model.predict(inputs, verbose=0)[:, 0] - targets)
    lstm_score = np.concatenate([np.full(w, err.min()), err])

    def minmax(v: np.ndarray) -> np.ndarray:
        return (v - v.min()) / (v.max() - v.min() + 1e-12)

    return (minmax(if_score) + minmax(lstm_score)) / 2


RECOMMENDED: dict[str, Any] = {
    "components": ["iforest", "robust_residual", "level_shift"],
    "weights": "auto",
    "threshold": "sigma",
    "robust_residual": {"trend": True, "window": 40},
}


def evaluate(
    rows: dict,  # type: ignore[type-arg]
    name: str,
    labels: np.ndarray,
    score: np.ndarray,
    flags: np.ndarray,
    fit_s: float,
    score_s: float,
) -> None:
    rows[name]["f1"].append(point_prf(labels, flags).f1)
    rows[name]["best_f1"].append(best_f1_threshold(labels, score)[0])
    rows[name]["ap"].append(average_precision(labels, score))
    rows[name]["fit_s"].append(fit_s)
    rows[name]["score_s"].append(score_s)


def run_detector(
    rows: dict,  # type: ignore[type-arg]
    name: str,
    X: np.ndarray,
    labels: np.ndarray,
    settings: dict[str, Any],
) -> EnsembleDetector:
    t = time.perf_counter()
    model = EnsembleDetector(DetectorConfig.model_validate(settings)).fit(X)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    result = model.score(X)
    score_s = time.perf_counter() - t
    evaluate(rows, name, labels, result.score, result.is_anomaly, fit_s, score_s)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--record", action="store_true", help="append to bench/results/")
    parser.add_argument(
        "--first-seed", type=int, default=10, help="seeds 0-9 tuned the defaults: report 10-19"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--no-lstm", action="store_true", help="skip every LSTM (fast check)")
    args = parser.parse_args()
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    lstm = {"epochs": args.epochs}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        x, labels, clean = make_series(seed)
        X = x[:, None]
        stamps = np.datetime64("2026-01-01") + np.arange(len(x)) * np.timedelta64(1, "m")
        t = time.perf_counter()
        shipped = EnsembleDetector(DetectorConfig(seed=seed)).fit(X, ts=stamps)
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        found = shipped.score(X, ts=stamps)
        evaluate(
            rows,
            "ours: as shipped (DetectorConfig())",
            labels,
            found.score,
            found.is_anomaly,
            fit_s,
            time.perf_counter() - t,
        )
        base = {"contamination": RATE, "sequence_length": 16, "seed": seed, "lstm": lstm}
        rec = {**base, **RECOMMENDED}
        model = run_detector(rows, "ours: recommended (auto, sigma)", X, labels, rec)
        if seed == 0:
            print(f"recommended, seed 0: {model.training_summary}", file=sys.stderr)
        run_detector(
            rows, "ours: recommended, dynamic threshold", X, labels, {**rec, "threshold": "dynamic"}
        )
        run_detector(rows, "ours: recommended, EWMA span 3", X, labels, {**rec, "smoothing": 3})
        run_detector(
            rows,
            "ours: recommended, equal weights",
            X,
            labels,
            {**rec, "weights": "equal"},
        )
        quantile = {**rec, "threshold": "quantile"}
        run_detector(rows, "ours: recommended, quantile threshold", X, labels, quantile)
        # the same members, each alone, on its own errors with the same sigma threshold
        for name, part in model.components.items():
            errors = part.outputs(X).errors
            flags = errors >= sigma_threshold(errors, model.config.threshold_sigma)
            evaluate(rows, f"ours: {name} alone (sigma)", labels, errors, flags, 0.0, 0.0)
        if not args.no_lstm:
            every = ["iforest", "robust_residual", "level_shift", "lstm_forecaster"]
            every.append("lstm_autoencoder")
            big = run_detector(
                rows, "ours: all 5 members (auto, sigma)", X, labels, {**rec, "components": every}
            )
            for name in ("lstm_forecaster", "lstm_autoencoder"):
                errors = big.components[name].outputs(X).errors
                flags = errors >= sigma_threshold(errors, big.config.threshold_sigma)
                evaluate(rows, f"ours: {name} alone (sigma)", labels, errors, flags, 0.0, 0.0)
            run_detector(
                rows,
                "ours: 4 members, equal, quantile (old)",
                X,
                labels,
                {**base, "components": every[:2] + every[3:]},
            )
        for name, fn, extra in [
            ("baseline: z-score |z|>3", baselines.zscore, ()),
            ("baseline: LOF(20)", baselines.lof, (RATE,)),
            ("baseline: One-Class SVM", baselines.ocsvm, (RATE,)),
            ("baseline: k-means distance", baselines.kmeans_distance, (seed,)),
        ]:
            t = time.perf_counter()
            score, flags = fn(X, X, *extra)  # type: ignore[operator]
            evaluate(rows, name, labels, score, flags, time.perf_counter() - t, 0.0)
        if not args.no_lstm:
            t = time.perf_counter()
            pub = published(x, seed, args.epochs)
            evaluate(
                rows,
                "published ensemble (re-implemented)",
                labels,
                pub,
                top_rate(pub),
                time.perf_counter() - t,
                0.0,
            )
        oracle = np.abs(x - clean)
        evaluate(rows, "oracle |x - sine|, top 5%", labels, oracle, top_rate(oracle), 0.0, 0.0)
        evaluate(rows, "oracle |x - sine| >= 3 x 0.1", labels, oracle, oracle >= 0.3, 0.0, 0.0)
        best = oracle >= best_f1_threshold(labels, oracle)[1]
        evaluate(rows, "oracle |x - sine|, best threshold", labels, oracle, best, 0.0, 0.0)
        print(f"seed {seed} done", file=sys.stderr)

    print(
        f"\nseed benchmark: seeds {args.first_seed}-{args.first_seed + args.seeds - 1}, "
        "1,000 points, 5% shifted by N(0, 0.5)"
    )
    header = (
        f"{'method':42} {'F1 (unsup.)':>14} {'best F1':>14} {'AP':>14} {'fit s':>7} {'score s':>8}"
    )
    print(header)
    print("-" * len(header))
    summary = {}

    def ms(values: list[float]) -> str:
        return f"{np.mean(values):.3f} ({np.std(values):.3f})"

    for name, m in rows.items():
        print(
            f"{name:42} {ms(m['f1']):>14} {ms(m['best_f1']):>14} {ms(m['ap']):>14} "
            f"{np.mean(m['fit_s']):7.2f} {np.mean(m['score_s']):8.3f}"
        )
        summary[name] = {k: float(np.mean(v)) for k, v in m.items()}
    results = RECORDED if args.record else SCRATCH
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "at": datetime.now().isoformat(timespec="seconds"),
                    "seeds": args.seeds,
                    "first_seed": args.first_seed,
                    "epochs": args.epochs,
                    "recommended": RECOMMENDED,
                    "results": summary,
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
