"""Pure anomaly detection on numpy arrays: no Prefect, no SQL, no I/O but model files."""

from typing import TYPE_CHECKING, Any

from detector.config import DetectorConfig
from detector.errors import DetectorError, InsufficientDataError, ModelIntegrityError
from detector.result import Detection

if TYPE_CHECKING:
    from detector.ensemble import EnsembleDetector

__all__ = [
    "Detection",
    "DetectorConfig",
    "DetectorError",
    "EnsembleDetector",
    "InsufficientDataError",
    "ModelIntegrityError",
]


def __getattr__(name: str) -> Any:
    """EnsembleDetector (scikit-learn, pandas) loads on first use, so reading a config
    (`anomwatch monitors validate`) does not pay for the models' imports."""
    if name == "EnsembleDetector":
        from detector.ensemble import EnsembleDetector

        return EnsembleDetector
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
