"""Detector settings: embedded as-is under `detector:` in monitors.yaml."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ComponentName = Literal["iforest", "robust_residual", "lstm_forecaster", "lstm_autoencoder"]


def _default_components() -> list[ComponentName]:
    return ["iforest"]


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


class DetectorConfig(BaseModel):
    """How a series is modelled and when a point counts as anomalous."""

    model_config = ConfigDict(extra="forbid")

    components: list[ComponentName] = Field(default_factory=_default_components, min_length=1)
    weights: dict[str, float] | Literal["equal", "auto"] = "equal"
    sequence_length: int = Field(16, ge=2, description="context rows needed before a new point")
    contamination: float = Field(0.01, gt=0, lt=0.5, description="expected anomalous fraction")
    threshold: Literal["quantile"] = "quantile"
    min_train_points: int = Field(100, ge=10)
    seed: int = 0
    iforest: IForestParams = Field(default_factory=IForestParams)
    lstm: LSTMParams = Field(default_factory=LSTMParams)

    @model_validator(mode="after")
    def _weights_name_components(self) -> DetectorConfig:
        if isinstance(self.weights, dict):
            unknown = set(self.weights) - set(self.components)
            if unknown:
                raise ValueError(f"weights name components not in 'components': {sorted(unknown)}")
        return self

    def config_hash(self) -> str:
        """Changes whenever any setting changes (models trained otherwise are retrained)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()
