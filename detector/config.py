"""Detector settings: embedded as-is under `detector:` in monitors.yaml."""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

ComponentName = Literal[
    "iforest",
    "robust_residual",
    "lstm_forecaster",
    "lstm_autoencoder",
    "level_shift",
    "cross_residual",
]
ThresholdName = Literal["quantile", "sigma", "dynamic", "f1"]


def smoothing_length(span: int) -> int:
    """Points an EWMA of this span looks back (weights below 1% of the newest are cut)."""
    alpha = 2.0 / (span + 1)
    return 1 if span <= 1 else int(np.ceil(np.log(0.01) / np.log(1 - alpha))) + 1


def _default_components() -> list[ComponentName]:
    # cross_residual only joins models of two or more columns (the ensemble leaves it out)
    return ["iforest", "robust_residual", "level_shift", "cross_residual"]


class IForestParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_estimators: int = Field(100, ge=10)
    max_samples: int = Field(256, ge=16)


class LSTMParams(BaseModel):
    """Sizes of both LSTM components (the autoencoder halves `units` in its middle)."""

    model_config = ConfigDict(extra="forbid")
    units: int = Field(32, ge=1)
    dropout: float = Field(0.2, ge=0, lt=1)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(0.005, gt=0)
    validation_split: float = Field(0.2, gt=0, lt=0.5)
    patience: int = Field(4, ge=1)


class ResidualParams(BaseModel):
    """robust_residual: the expected value of a point from the `window` points before it."""

    model_config = ConfigDict(extra="forbid")
    trend: bool = Field(
        True, description="a robust local line instead of the median: no lag on slopes"
    )
    window: int | None = Field(40, ge=2, description="points used; null = sequence_length - 1")


class LevelShiftParams(BaseModel):
    """level_shift: median of the last `recent` points vs the median of `reference` before them."""

    model_config = ConfigDict(extra="forbid")
    recent: int = Field(4, ge=1)
    reference: int | None = Field(None, ge=2, description="default sequence_length - recent")


class DynamicThresholdParams(BaseModel):
    """Hundman et al. (2018) dynamic threshold: mean + z * std of the smoothed errors."""

    model_config = ConfigDict(extra="forbid")
    z_min: float = Field(2.5, gt=0)
    z_max: float = Field(12.0, gt=0)
    z_step: float = Field(0.5, gt=0)
    max_sequences: int = Field(5, ge=1, description="per this many points, see per_points")
    per_points: int = Field(1000, ge=10)
    prune: float = Field(0.13, ge=0, lt=1, description="minimum percent drop between sequences")


class AlarmParams(BaseModel):
    """Alarm aggregation: fire when >= k of the last m points cross, then stay quiet."""

    model_config = ConfigDict(extra="forbid")
    k: int = Field(1, ge=1)
    m: int = Field(1, ge=1)
    suppress: int = Field(0, ge=0, description="points without a new alarm after one fires")
    rearm: bool = Field(
        False, description="a score above every score of the quiet period fires anyway"
    )

    @model_validator(mode="after")
    def _k_within_m(self) -> AlarmParams:
        if self.k > self.m:
            raise ValueError(f"alarm.k ({self.k}) must not exceed alarm.m ({self.m})")
        return self


PeriodName = Literal["daily", "weekly"]


def _default_periods() -> list[PeriodName]:
    return ["daily", "weekly"]


class SeasonalityParams(BaseModel):
    """Daily/weekly profile found per series at fit time (detector/seasonality.py)."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["auto", "off"] = Field("auto", description="auto: keep a profile that helps")
    periods: list[PeriodName] = Field(
        default_factory=_default_periods, description="candidate periods"
    )
    bin_minutes: int = Field(30, ge=1, description="profile resolution (at least the data step)")
    min_periods: float = Field(3.0, ge=1.5, description="history needed, in periods")
    min_gain: float = Field(
        0.15, ge=0, lt=1, description="share of the detrended spread a profile must explain"
    )
    timezone: str | None = Field(
        None, description="IANA zone whose clock the season follows (DST); default UTC"
    )

    @model_validator(mode="after")
    def _known_zone(self) -> SeasonalityParams:
        if self.timezone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {self.timezone!r}: use an IANA name such as "
                    "'Europe/Berlin' or 'America/New_York'"
                ) from None
        return self


class DetectorConfig(BaseModel):
    """How a series is modelled and when a point counts as anomalous."""

    model_config = ConfigDict(extra="forbid")

    components: list[ComponentName] = Field(default_factory=_default_components, min_length=1)
    weights: dict[str, float] | Literal["equal", "auto"] = "auto"
    sequence_length: int = Field(16, ge=2, description="context rows needed before a new point")
    contamination: float = Field(0.01, gt=0, lt=0.5, description="expected anomalous fraction")
    threshold: ThresholdName = Field(
        "sigma",
        description="quantile: the score flagging at most `contamination` of the training rows; "
        "sigma: combined error >= "
        "threshold_sigma noise sigmas; dynamic: Hundman et al. 2018; f1: F1-optimal from labels",
    )
    threshold_sigma: float = Field(3.5, gt=0)
    max_events_per_week: float | None = Field(
        1.0,
        gt=0,
        description="false-alarm budget: the threshold rises until the training rows give at "
        "most this many alert events per week (needs timestamps)",
    )
    dynamic: DynamicThresholdParams = Field(default_factory=DynamicThresholdParams)
    smoothing: int = Field(0, ge=0, description="EWMA span (points) of the errors; 0 = off")
    alarm: AlarmParams | None = None
    min_train_points: int = Field(100, ge=10)
    seed: int = 0
    iforest: IForestParams = Field(default_factory=IForestParams)
    lstm: LSTMParams = Field(default_factory=LSTMParams)
    robust_residual: ResidualParams = Field(default_factory=ResidualParams)
    level_shift: LevelShiftParams = Field(default_factory=LevelShiftParams)
    seasonality: SeasonalityParams = Field(default_factory=SeasonalityParams)
    noise_floor: float = Field(
        0.01,
        ge=0,
        description="smallest noise sigma, as a share of the 1-99% spread; the value quantum "
        "of integer/quantised series is a floor too",
    )

    @model_validator(mode="after")
    def _weights_name_components(self) -> DetectorConfig:
        if isinstance(self.weights, dict):
            unknown = set(self.weights) - set(self.components)
            if unknown:
                raise ValueError(f"weights name components not in 'components': {sorted(unknown)}")
        return self

    @model_validator(mode="after")
    def _level_shift_fits(self) -> DetectorConfig:
        if "level_shift" in self.components and self.level_shift_reference < 2:
            raise ValueError(
                f"level_shift needs at least 2 reference points: raise sequence_length "
                f"({self.sequence_length}) or lower level_shift.recent ({self.level_shift.recent})"
            )
        return self

    @property
    def residual_window(self) -> int:
        return self.robust_residual.window or self.sequence_length - 1

    @property
    def level_shift_reference(self) -> int:
        return self.level_shift.reference or self.sequence_length - self.level_shift.recent

    @property
    def context_rows(self) -> int:
        """Rows a caller must prepend so that new rows score exactly as in one long batch."""
        rows = self.sequence_length - 1
        if "robust_residual" in self.components:
            # its window, and the rows before it that say whether the series was away
            rows = max(rows, self.residual_window + self.level_shift.recent - 1)
        if "level_shift" in self.components:
            # the recent points, their reference, and the reference before that
            rows = max(rows, self.level_shift.recent + 2 * self.level_shift_reference - 1)
        if self.smoothing:
            rows += smoothing_length(self.smoothing) - 1
        if self.alarm is not None:
            rows += self.alarm.m - 1
        return rows

    def config_hash(self) -> str:
        """Changes whenever any setting changes (models trained otherwise are retrained)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()
