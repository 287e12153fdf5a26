"""anomwatch: scheduled anomaly detection for metrics that live in SQL databases."""

__version__ = "0.1.0"
