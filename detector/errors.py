"""Detector errors: each message says what was wrong with the input and how to fix it."""

from __future__ import annotations


class DetectorError(Exception):
    """Input or state the detector cannot work with."""


class InsufficientDataError(DetectorError):
    """Too few training points for a meaningful model (a cold start, not a crash)."""


class ModelIntegrityError(DetectorError):
    """A model file does not match its manifest or the registry's hash: refused."""
