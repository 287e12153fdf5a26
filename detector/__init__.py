"""Pure anomaly detection on numpy arrays: no Prefect, no SQL, no I/O but model files."""

from detector.config import DetectorConfig
from detector.ensemble import EnsembleDetector
from detector.errors import DetectorError, InsufficientDataError, ModelIntegrityError
from detector.result import Detection

__all__ = [
    "Detection",
    "DetectorConfig",
    "DetectorError",
    "EnsembleDetector",
    "InsufficientDataError",
    "ModelIntegrityError",
]
