"""The detector a monitor uses per series: components, calibration, threshold.

Only the components named in the config are built; TensorFlow is imported only by
LSTM components, so an Isolation-Forest-only monitor never pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from detector.alarms import aggregate
from detector.calibration import EmpiricalCalibrator
from detector.config import DetectorConfig
from detector.cross_residual import CrossResidual
from detector.errors import DetectorError, InsufficientDataError
from detector.events import EventParams, track_events
from detector.iforest import IForestComponent
from detector.level_shift import LevelShift
from detector.metrics import best_f1_threshold
from detector.noise import noise_floor, value_quanta
from detector.persistence import read_artifact, write_artifact
from detector.residual import RobustResidual
from detector.result import ComponentOutput, Detection, Hold
from detector.seasonality import SeasonalProfile
from detector.smoothing import ewma
from detector.thresholds import dynamic_threshold, quantile_threshold, sigma_threshold
from detector.weights import auto_weights
from detector.windows import padded_windows


@dataclass(frozen=True)
class SeasonalView:
    """Maps rows into the members' deseasoned space and their values back."""

    profile: np.ndarray | None  # (n, f)
    multiplier: np.ndarray | None  # (n, f)
    center: np.ndarray | None  # (f,)

    def forward(self, X: np.ndarray) -> np.ndarray:
        if self.profile is None or self.multiplier is None or self.center is None:
            return X
        return self.center + (X - self.profile - self.center) / self.multiplier

    def back(self, V: np.ndarray) -> np.ndarray:
        if self.profile is None or self.multiplier is None or self.center is None:
            return V
        return self.profile + self.center + (V - self.center) * self.multiplier


class Component(Protocol):
    name: str

    def fit(self, X: np.ndarray) -> Any: ...

    def score(self, X: np.ndarray) -> np.ndarray: ...

    def outputs(self, X: np.ndarray) -> ComponentOutput: ...


def build_component(name: str, config: DetectorConfig) -> Component:
    if name == "iforest":
        return IForestComponent(config.iforest, config.contamination, config.seed)
    if name == "robust_residual":
        return RobustResidual(
            config.sequence_length, config.robust_residual.trend, config.robust_residual.window
        )
    if name == "level_shift":
        return LevelShift(config.level_shift.recent, config.level_shift_reference)
    if name == "cross_residual":
        return CrossResidual()
    from detector.lstm import LSTMAutoencoder, LSTMForecaster  # imports Keras lazily

    if name == "lstm_forecaster":
        return LSTMForecaster(config.lstm, config.sequence_length, config.seed)
    if name == "lstm_autoencoder":
        return LSTMAutoencoder(config.lstm, config.sequence_length, config.seed)
    raise DetectorError(f"unknown detector component {name!r}")


class EnsembleDetector:
    """Components → one combined statistic → (EWMA) → threshold → (alarm aggregation).

    With threshold "quantile" the statistic is the weighted mean of the calibrated
    component scores (as before); with "sigma", "dynamic" and "f1" it is the weighted
    mean of the component errors in noise sigmas, which keeps the shape of the tail
    a threshold has to find. Either way the reported score is that statistic
    calibrated on the training rows, and each component's calibrated score is kept.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.components: dict[str, Component] = {}
        self.n_features: int | None = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a model saved before a setting existed loads with that setting's default
        config = state.get("config")
        if isinstance(config, DetectorConfig):
            state["config"] = DetectorConfig.model_validate(
                {k: v for k, v in config.__dict__.items() if k in DetectorConfig.model_fields}
            )
        self.__dict__.update(state)

    # -- input checks ----------------------------------------------------------------

    def _check(self, X: np.ndarray, fitting: bool) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise DetectorError(f"expected a (points, features) array, got shape {X.shape}")
        if not fitting and self.n_features is not None and X.shape[1] != self.n_features:
            raise DetectorError(
                f"the model was trained on {self.n_features} feature(s) but got {X.shape[1]}; "
                "the value columns changed: retrain the model"
            )
        bad = ~np.isfinite(X)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DetectorError(
                f"{int(bad.sum())} NaN/inf value(s), first at row {row}; clean or drop them first"
            )
        return X

    # -- fit / score -------------------------------------------------------------------

    def fit(
        self, X: np.ndarray, labels: np.ndarray | None = None, ts: np.ndarray | None = None
    ) -> EnsembleDetector:
        """Fit on X; with threshold "f1", `labels` (True = anomalous row) choose the threshold.

        `ts` (the rows' timestamps) enables the seasonal profile and the event budget;
        a model fitted with a profile must then be scored with timestamps too.
        """
        X = self._check(X, fitting=True)
        if len(X) < self.config.min_train_points:
            raise InsufficientDataError(
                f"{len(X)} training point(s), at least {self.config.min_train_points} needed "
                "(detector.min_train_points)"
            )
        if (labels is not None) != (self.config.threshold == "f1"):
            raise DetectorError(
                "threshold 'f1' needs labels (fit(X, labels=...)), and labels are only used by "
                f"threshold 'f1' (this config has {self.config.threshold!r}); or fit without "
                "labels and call tune_threshold(X, labels) afterwards"
            )
        if labels is not None and len(labels) != len(X):
            raise DetectorError(f"{len(labels)} label(s) for {len(X)} training row(s)")
        ts = None if ts is None else self._check_ts(ts, len(X))  # once, for every use below
        self.n_features = X.shape[1]
        quanta = value_quanta(X)
        self.noise_floor_ = noise_floor(X, self.config.noise_floor, quanta)
        seasonal_note = self._fit_seasonality(X, ts, quanta)
        X, view = self._deseasoned(X, ts)
        self.components = {
            n: build_component(n, self.config)
            for n in self.config.components
            if n != "cross_residual" or X.shape[1] > 1  # it predicts a column from the others
        }
        self._fit_components(X, view)
        outputs = self._outputs(X, view)
        self.weights_, self.injected_ap_ = self._weights(X, view, outputs)
        self.center_ = np.median(X, axis=0)
        self.lower_ = np.quantile(X, 0.005, axis=0)
        self.upper_ = np.quantile(X, 0.995, axis=0)
        statistic = self._statistic(outputs)
        # A mean of calibrated scores is no longer a CDF: calibrate the ensemble again,
        # so that the threshold keeps meaning "this rare on normal data".
        self.ensemble_calibrator_: EmpiricalCalibrator | None = None
        if len(outputs) > 1 or self._in_error_space or self.config.smoothing > 1:
            self.ensemble_calibrator_ = EmpiricalCalibrator().fit(statistic)
        train_scores = self._final(statistic)
        self.error_threshold_: float | None = None
        method = self.config.threshold
        if method == "quantile":
            self.threshold_ = quantile_threshold(train_scores, self.config.contamination)
        elif method == "f1":
            assert labels is not None
            self.threshold_ = best_f1_threshold(np.asarray(labels, bool), train_scores)[1]
        else:
            if method == "sigma":
                epsilon = sigma_threshold(statistic, self.config.threshold_sigma)
            else:
                epsilon = dynamic_threshold(statistic, self.config.dynamic)
            self.error_threshold_ = float(epsilon)
            self.threshold_ = float(self._final(np.array([epsilon]))[0])
        self.band_sigma_ = float(self.error_threshold_ or self.config.threshold_sigma)
        budget_note = self._apply_budget(X, ts, statistic, train_scores, outputs)
        crossed = self._crossed(statistic, train_scores) & self._outside_band(X, outputs)
        self.training_summary: dict[str, Any] = {
            "n_points": int(len(X)),
            "n_features": int(self.n_features),
            "train_flag_rate": float(np.mean(crossed)),
            "train_score_p99": float(np.quantile(train_scores, 0.99)),
            "threshold": self.config.threshold,
            "score_threshold": float(self.threshold_),
            "weights": {n: round(w, 4) for n, w in self.weights_.items()},
            "seasonality": seasonal_note,
            "noise_floor": [float(v) for v in self.noise_floor_],
        }
        if budget_note:
            self.training_summary["budget"] = budget_note
        if self.error_threshold_ is not None:
            self.training_summary["error_threshold"] = self.error_threshold_
        if self.injected_ap_:
            self.training_summary["injected_ap"] = {
                n: round(v, 4) for n, v in self.injected_ap_.items()
            }
        return self

    def tune_threshold(self, X: np.ndarray, labels: np.ndarray) -> float:
        """Set the F1-optimal score threshold from labelled rows (e.g. validation data
        or analysts' feedback); returns the F1 it reaches on them."""
        result = self.score(X)
        if len(labels) != len(result.score):
            raise DetectorError(f"{len(labels)} label(s) for {len(result.score)} row(s)")
        f1, threshold = best_f1_threshold(np.asarray(labels, bool), result.score)
        self.threshold_, self.error_threshold_ = threshold, None
        self.training_summary["score_threshold"] = float(threshold)
        self.training_summary["threshold"] = "f1"
        return f1

    def _fit_seasonality(self, X: np.ndarray, ts: np.ndarray | None, quanta: np.ndarray) -> str:
        """The profile's noise multipliers never imply less than a column's value quantum."""
        self.seasonal_: SeasonalProfile | None = None
        if self.config.seasonality.mode == "off":
            return "off"
        if ts is None:
            return "off: fitted without timestamps"
        profile = SeasonalProfile(self.config.seasonality)
        note = profile.fit(X, ts, quanta).note
        if profile.active:
            self.seasonal_ = profile
            self.seasonal_center_ = np.median(X - profile.values(ts), axis=0)
        return note

    @staticmethod
    def _check_ts(ts: np.ndarray, n: int) -> np.ndarray:
        ts = np.asarray(ts).astype("datetime64[us]")
        if ts.shape != (n,):
            raise DetectorError(f"{ts.shape[0] if ts.ndim else 0} timestamp(s) for {n} row(s)")
        if n > 1 and bool((np.diff(ts) < np.timedelta64(0, "us")).any()):
            raise DetectorError("timestamps must be sorted ascending")
        return ts

    def _deseasoned(self, X: np.ndarray, ts: np.ndarray | None) -> tuple[np.ndarray, SeasonalView]:
        """The rows as the members see them: the profile removed and the noise made even
        (X' = c + (X - profile - c) / multiplier), and the view that maps values back."""
        seasonal = getattr(self, "seasonal_", None)  # models saved before seasonality had none
        if seasonal is None:
            return X, SeasonalView(None, None, None)
        if ts is None:
            raise DetectorError(
                "this model has a seasonal profile: score with the rows' timestamps (ts=...)"
            )
        ts = self._check_ts(ts, len(X))
        view = SeasonalView(seasonal.values(ts), seasonal.multipliers(ts), self.seasonal_center_)
        return view.forward(X), view

    def _outside_band(self, X: np.ndarray, outputs: dict[str, ComponentOutput]) -> np.ndarray:
        """A residual-type member never calls a point inside its own expected band anomalous.

        With several columns a row inside every column's own band can still break the
        relation between the columns: the cross-sectional residual beyond the same
        threshold keeps it eligible."""
        residual = outputs.get("robust_residual")
        if residual is None or residual.expected is None:
            return np.ones(len(X), dtype=bool)
        half = self.components["robust_residual"].band_ * self._band_sigma  # type: ignore[attr-defined]
        outside = (np.abs(X - residual.expected) > half).any(axis=1)
        cross = outputs.get("cross_residual")
        if cross is not None:
            outside |= cross.errors > self._band_sigma
        return np.asarray(outside)

    @property
    def _band_sigma(self) -> float:
        return float(getattr(self, "band_sigma_", self.config.threshold_sigma))

    def _apply_budget(
        self,
        X: np.ndarray,
        ts: np.ndarray | None,
        statistic: np.ndarray,
        train_scores: np.ndarray,
        outputs: dict[str, ComponentOutput],
    ) -> str | None:
        """Raise the threshold until the training rows give at most max_events_per_week.

        The event count is not monotone in the threshold (a lower one can merge two
        events into one, and flagging every row is a single event), so the lowest
        threshold within budget is degenerate: the search bisects between the sigma
        threshold and the top of the training errors for the boundary nearest the top.
        """
        budget = self.config.max_events_per_week
        if budget is None:
            return None
        if ts is None:
            return "not applied: fitted without timestamps"
        # first to last row: a 14-day window of 5-minute rows allows 1 event, not 2 (adding
        # the last step, measured: 0.083 -> 0.138 false events/series/day, seasonal seed 1)
        weeks = float((ts[-1] - ts[0]) / np.timedelta64(7, "D")) if len(ts) > 1 else 0.0
        allowed = budget * weeks
        eligible = self._outside_band(X, outputs)
        ones = np.ones(len(X), dtype=np.int64)
        params = EventParams()

        def n_events(flags: np.ndarray) -> int:
            return len(track_events(ts, flags & eligible, statistic, ones, params).opened_rows())

        current = self._crossed(statistic, train_scores)
        found = n_events(current)
        if found <= allowed:
            return f"{found} event(s) on {weeks:.1f} training week(s): within {budget}/week"
        floor = float(statistic[current].min()) if current.any() else -np.inf
        candidates = np.unique(statistic[statistic > floor])
        candidates = np.append(candidates, np.nextafter(statistic.max(), np.inf))
        lo, hi = 0, len(candidates) - 1  # n_events(candidates[hi]) == 0 <= allowed
        while lo < hi:
            mid = (lo + hi) // 2
            if n_events(statistic >= candidates[mid]) <= allowed:
                hi = mid
            else:
                lo = mid + 1
        # the lowest threshold with that count: just above the highest statistic it leaves
        # unflagged, not at the next one up (a real incident in the training rows would
        # otherwise lift the threshold to its own peak, and every smaller one goes unseen)
        epsilon = float(np.nextafter(candidates[lo - 1] if lo > 0 else floor, np.inf))
        self.error_threshold_ = epsilon
        self.threshold_ = float(self._final(np.array([epsilon]))[0])
        return (
            f"threshold raised: {found} event(s) on {weeks:.1f} training week(s) exceeded "
            f"{budget}/week"
        )

    @property
    def _in_error_space(self) -> bool:
        return self.config.threshold != "quantile"

    def _fit_components(self, X: np.ndarray, view: SeasonalView) -> None:
        """The Isolation Forest first: its pre-labels keep anomalies out of AE training."""
        normal = None
        floor = getattr(self, "noise_floor_", None)
        for name, component in self.components.items():
            if name == "cross_residual":  # relations between columns hold in their own units
                component.fit(view.back(X), floor=floor)  # type: ignore[call-arg]
            elif name in ("robust_residual", "level_shift"):
                component.fit(X, floor=floor)  # type: ignore[call-arg]
            elif name == "lstm_autoencoder":
                if normal is None:
                    prelabel = IForestComponent(
                        self.config.iforest, self.config.contamination, self.config.seed
                    ).fit(X)
                    normal = prelabel.score(X) < 1.0 - self.config.contamination
                component.fit(X, normal_mask=normal)  # type: ignore[call-arg]
            else:
                component.fit(X)
                if name == "iforest":
                    normal = component.score(X) < 1.0 - self.config.contamination

    def _outputs(self, X: np.ndarray, view: SeasonalView) -> dict[str, ComponentOutput]:
        return {n: self._member_outputs(n, c, X, view) for n, c in self.components.items()}

    @staticmethod
    def _member_outputs(
        name: str, component: Component, X: np.ndarray, view: SeasonalView
    ) -> ComponentOutput:
        """Members see the deseasoned rows, but the cross-sectional residual sees the
        values themselves: each column's own profile and noise multiplier would bend
        the relations between columns it relies on."""
        return component.outputs(view.back(X) if name == "cross_residual" else X)

    def _weights(
        self, X: np.ndarray, view: SeasonalView, outputs: dict[str, ComponentOutput]
    ) -> tuple[dict[str, float], dict[str, float]]:
        weights = self.config.weights
        if weights == "auto" and len(outputs) > 1:
            space = "errors" if self._in_error_space else "calibrated"

            def errors_of(data: np.ndarray) -> dict[str, np.ndarray]:
                return {n: getattr(o, space) for n, o in self._outputs(data, view).items()}

            return auto_weights(
                errors_of,
                X,
                self.config.seed,
                self.config.sequence_length,
                self.config.level_shift.recent,
                self.config.context_rows,
            )
        if isinstance(weights, dict):
            raw = {n: weights.get(n, 0.0) for n in self.components}
        else:
            raw = dict.fromkeys(self.components, 1.0)
        total = sum(raw.values()) or 1.0
        return {n: w / total for n, w in raw.items()}, {}

    def _statistic(self, outputs: dict[str, ComponentOutput]) -> np.ndarray:
        space = "errors" if self._in_error_space else "calibrated"
        combined = np.sum(
            [self.weights_[n] * getattr(o, space) for n, o in outputs.items()], axis=0
        )
        return ewma(combined, self.config.smoothing) if self.config.smoothing > 1 else combined

    def _final(self, statistic: np.ndarray) -> np.ndarray:
        if self.ensemble_calibrator_ is not None:
            statistic = self.ensemble_calibrator_.transform(statistic)
        return np.clip(statistic, 0.0, 1.0)

    def _crossed(self, statistic: np.ndarray, score: np.ndarray) -> np.ndarray:
        # Error-space thresholds compare the statistic itself: the calibration that maps
        # it to a score is monotone but not strictly (rows between two training values
        # share a score), so the score threshold is for display and tuning only.
        epsilon = getattr(self, "error_threshold_", None)
        if epsilon is not None:
            return statistic >= epsilon
        return score >= self.threshold_

    def score(self, X: np.ndarray, ts: np.ndarray | None = None) -> Detection:
        """Score rows; `ts` is required when the model was fitted with a seasonal profile."""
        if not self.components:
            raise DetectorError("the detector is not fitted")
        X = self._check(X, fitting=False)
        X, view = self._deseasoned(X, ts)
        n = len(X)
        outputs: dict[str, ComponentOutput] = {}
        expected = np.tile(self.center_, (n, 1))
        lower, upper = np.tile(self.lower_, (n, 1)), np.tile(self.upper_, (n, 1))
        for name, component in self.components.items():
            outputs[name] = self._member_outputs(name, component, X, view)
            forecast = outputs[name].expected
            if forecast is not None:
                band = component.band_  # type: ignore[attr-defined]
                if name == "robust_residual":
                    band = band * self._band_sigma
                expected, lower, upper = forecast, forecast - band, forecast + band
        statistic = self._statistic(outputs)
        score = self._final(statistic)
        residual = outputs.get("robust_residual")
        hold = self._hold(X, None if residual is None else residual.expected)
        crossed = self._crossed(statistic, score) & self._outside_band(X, outputs)
        alarm = self.config.alarm
        flags = crossed
        if alarm is not None:
            rearm = score if alarm.rearm else None
            flags = aggregate(crossed, alarm.k, alarm.m, alarm.suppress, rearm)
        return Detection(
            score=score,
            is_anomaly=flags,
            threshold=self.threshold_,
            components={n: o.calibrated for n, o in outputs.items()},
            expected=view.back(expected),
            lower=view.back(lower),
            upper=view.back(upper),
            crossed=crossed,
            errors=statistic,
            margin=self._margin(statistic),
            hold=hold,
        )

    def _hold(self, X: np.ndarray, expected: np.ndarray | None) -> Hold:
        """Away, held and departing rows (detector/result.py). Away: most of the last
        `level_shift.recent` rows lie beyond the training range on one side (in the
        members' space, so a seasonal series is judged against its profile; most, so that
        one noisy row inside the range does not end an incident and a two-row spike is no
        level). Held: those, and the rows whose residual window still holds several
        (`recent`) of them: the residual's line leans on a level that lasted (a step back
        tilts it), so the incident goes on a window longer. Departing: rows that move
        further from the range than the residual expects (beyond it, and further out than
        its expected value: a new incident during a level that is away, not the return
        towards normal) or that are away on the other side than earlier in that window:
        these end a hold."""
        recent = max(1, self.config.level_shift.recent)
        last = padded_windows(X, recent)
        above = ((last > self.upper_).sum(axis=1) * 2 > recent).any(axis=1)
        below = ((last < self.lower_).sum(axis=1) * 2 > recent).any(axis=1)
        away = np.asarray(above | below)
        # each row's residual window and the row itself: (n, window + 1, [above, below])
        window = padded_windows(np.stack([above, below], axis=1), self.config.residual_window + 1)
        before = np.asarray(window[:, :-1, :].any(axis=1))
        departing = np.asarray((above & before[:, 1]) | (below & before[:, 0]))
        if expected is not None:
            middle = (self.lower_ + self.upper_) / 2
            beyond = (self.upper_ < X) | (self.lower_ > X)
            further = np.abs(X - middle) > np.abs(expected - middle)
            departing |= (beyond & further).any(axis=1)
        held = away
        if "robust_residual" in self.components:
            held = away | (window.any(axis=2).sum(axis=1) >= recent)
        return Hold(away=away, held=np.asarray(held), departing=np.asarray(departing))

    def _margin(self, statistic: np.ndarray) -> np.ndarray | None:
        epsilon = getattr(self, "error_threshold_", None)
        if epsilon is None or not epsilon > 0:
            return None
        return np.asarray(statistic / epsilon, dtype=float)

    # -- persistence -----------------------------------------------------------------

    def save(self, directory: Path) -> str:
        manifest = {
            "config": self.config.model_dump(mode="json"),
            "config_hash": self.config.config_hash(),
            "training_summary": self.training_summary,
        }
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for component in self.components.values():
            if hasattr(component, "save_extra"):
                component.save_extra(directory)
        return write_artifact(directory, self, manifest)

    @classmethod
    def load(cls, directory: Path, expected_sha256: str) -> EnsembleDetector:
        state, _manifest = read_artifact(Path(directory), expected_sha256)
        if not isinstance(state, cls):
            raise DetectorError(f"{directory} does not hold an anomwatch detector")
        for component in state.components.values():
            if hasattr(component, "load_extra"):
                component.load_extra(Path(directory))
        return state
