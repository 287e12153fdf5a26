"""Model directories are stored relative to the models folder (ANOMWATCH_HOME/models),
so moving the home folder keeps every model; paths outside it stay absolute."""

from __future__ import annotations

from pathlib import Path


def models_root() -> Path:
    from anomwatch.settings import Settings

    return Settings().models_dir


def to_stored(path: str | Path, root: Path | None = None) -> str:
    """The path to keep in the store: relative to the models folder when inside it."""
    root = (root or models_root()).resolve()
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(root))
    except ValueError:
        return str(absolute)


def from_stored(stored: str, root: Path | None = None) -> str:
    """The path to open: a relative one is under today's models folder."""
    if Path(stored).is_absolute():
        return stored
    return str((root or models_root()) / stored)
