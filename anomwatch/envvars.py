"""${VAR} references in config values, filled from the environment at use time."""

from __future__ import annotations

import os
import re

from anomwatch.errors import ConfigError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str, what: str) -> str:
    """Replace ${VAR} with the environment's value; a missing variable is an error."""

    def _sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{what} refers to environment variable {name}, which is not set")
        return os.environ[name]

    return ENV_REF.sub(_sub, text)


def has_env_ref(text: str) -> bool:
    return ENV_REF.search(text) is not None
