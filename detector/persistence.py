"""Model files with a manifest; anything that does not match its hash is refused."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from detector.errors import ModelIntegrityError

MANIFEST = "manifest.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_artifact(directory: Path, state: Any, manifest: dict[str, Any]) -> str:
    """state → state.joblib, plus manifest.json listing every file's sha256; returns its hash."""
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / "state.joblib"
    joblib.dump(state, state_path)
    files = {p.name: sha256_of(p) for p in sorted(directory.iterdir()) if p.name != MANIFEST}
    body = {
        **manifest,
        "files": files,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "joblib": joblib.__version__,
        },
    }
    (directory / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True, default=str))
    return sha256_of(directory / MANIFEST)


def read_artifact(directory: Path, expected_sha256: str) -> tuple[Any, dict[str, Any]]:
    manifest_path = directory / MANIFEST
    if not directory.is_dir():
        raise ModelIntegrityError(
            f"{directory}: the model directory does not exist (was the models folder moved "
            "or deleted?)"
        )
    if not manifest_path.exists():
        raise ModelIntegrityError(f"{directory}: no {MANIFEST}; the model directory is incomplete")
    actual = sha256_of(manifest_path)
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"{manifest_path}: sha256 {actual[:12]}… differs from the registry's "
            f"{expected_sha256[:12]}…; refusing to load a modified model"
        )
    manifest = json.loads(manifest_path.read_text())
    for name, digest in manifest["files"].items():
        path = directory / name
        if not path.exists() or sha256_of(path) != digest:
            raise ModelIntegrityError(f"{path}: missing or modified since it was saved; refused")
    return joblib.load(directory / "state.joblib"), manifest
