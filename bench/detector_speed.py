"""Detector speed: fit and score time per 1,000 and per 100,000 points.

    .venv/bin/python bench/detector_speed.py [--sizes 1000,100000] [--lstm-epochs 2]
        [--no-lstm]

Series: sine + noise with 1% spikes, one feature. Each component is fitted alone
(a one-member detector, quantile threshold), then the recommended ensemble
(iforest + robust_residual with trend + level_shift, auto weights, sigma
threshold: its fit includes scoring the injected copy for the weights) and all
five members. Fit = EnsembleDetector.fit on n points; score = one score() call on
the same n points. LSTMs train for --lstm-epochs epochs (the service default is 30
with early stopping: multiply their fit time accordingly). Windows are built with
sliding_window_view, no Python loops. Prints a table and appends a JSON line to
bench/results/detector_speed.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector import DetectorConfig, EnsembleDetector  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "detector_speed.jsonl"
LSTM_MEMBERS = {"lstm_forecaster", "lstm_autoencoder"}


def series(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(n) * 0.01) + rng.normal(0, 0.1, n)
    spikes = rng.choice(n, max(n // 100, 1), replace=False)
    x[spikes] += rng.normal(0, 1, spikes.size)
    return x[:, None]


def setups(epochs: int) -> dict[str, dict[str, Any]]:
    lstm = {"epochs": epochs}
    recommended = {
        "components": ["iforest", "robust_residual", "level_shift"],
        "weights": "auto",
        "threshold": "sigma",
        "robust_residual": {"trend": True, "window": 40},
    }
    return {
        "iforest": {"components": ["iforest"]},
        "robust_residual (median)": {"components": ["robust_residual"]},
        "robust_residual (trend, 40)": {
            "components": ["robust_residual"],
            "robust_residual": {"trend": True, "window": 40},
        },
        "level_shift": {"components": ["level_shift"]},
        "lstm_forecaster": {"components": ["lstm_forecaster"], "lstm": lstm},
        "lstm_autoencoder": {"components": ["lstm_autoencoder"], "lstm": lstm},
        "ensemble: recommended": recommended,
        "ensemble: all 5 (auto, sigma)": {
            **recommended,
            "components": [*recommended["components"], *sorted(LSTM_MEMBERS)],
            "lstm": lstm,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--lstm-epochs", type=int, default=2)
    parser.add_argument("--no-lstm", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: dict[str, dict[int, tuple[float, float]]] = {}
    for name, settings in setups(args.lstm_epochs).items():
        if args.no_lstm and LSTM_MEMBERS & set(settings["components"]):
            continue
        for n in sizes:
            X = series(n)
            config = DetectorConfig.model_validate({**settings, "contamination": 0.01})
            t = time.perf_counter()
            model = EnsembleDetector(config).fit(X)
            fit_s = time.perf_counter() - t
            t = time.perf_counter()
            model.score(X)
            rows.setdefault(name, {})[n] = (fit_s, time.perf_counter() - t)
            print(f"{name} n={n}: fit {fit_s:.2f} s", file=sys.stderr)
    head = "".join(f" {'fit ' + f'{n:,}':>14} {'score ' + f'{n:,}':>14}" for n in sizes)
    print(f"\ndetector speed (seconds per call, LSTMs {args.lstm_epochs} epochs, 2 shared cores)")
    print(f"{'detector':32}{head}")
    print("-" * (32 + 30 * len(sizes)))
    for name, by_n in rows.items():
        cells = "".join(f" {by_n[n][0]:14.3f} {by_n[n][1]:14.3f}" for n in sizes)
        print(f"{name:32}{cells}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "at": datetime.now().isoformat(timespec="seconds"),
                    "machine": platform.machine(),
                    "lstm_epochs": args.lstm_epochs,
                    "seconds": {
                        name: {
                            str(n): {"fit": round(f, 4), "score": round(s, 4)}
                            for n, (f, s) in by_n.items()
                        }
                        for name, by_n in rows.items()
                    },
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
