"""The multivariate benchmark's configurations: --lstm adds each small LSTM to the default."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.multivariate_benchmark import configurations  # noqa: E402
from bench.seasonal_benchmark import LSTM_SMALL  # noqa: E402
from detector import DetectorConfig  # noqa: E402


def test_without_lstm_only_the_default_runs() -> None:
    assert configurations({}, lstm=False) == [("default", {})]


def test_lstm_adds_each_member_to_the_default_with_the_small_network() -> None:
    names = [name for name, _ in configurations({}, lstm=True)]
    assert names == ["default", "default+lstm_forecaster", "default+lstm_autoencoder"]
    default = DetectorConfig().components
    for name, settings in configurations({}, lstm=True)[1:]:
        config = DetectorConfig.model_validate(settings)
        member = name.removeprefix("default+")
        assert config.components == [*default, member]
        assert config.lstm.model_dump(include=set(LSTM_SMALL)) == LSTM_SMALL


def test_set_overrides_reach_the_lstm_variants_too() -> None:
    overrides = {"components": ["iforest", "cross_residual"], "contamination": 0.02}
    for _, settings in configurations(overrides, lstm=True)[1:]:
        config = DetectorConfig.model_validate(settings)
        assert config.contamination == 0.02
        assert config.components[:2] == ["iforest", "cross_residual"]
