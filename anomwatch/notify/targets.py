"""Apprise targets: checked at config time, secrets filled in only when sending.

A target in monitors.yaml may contain ${ENV_VAR} parts (tokens, passwords); the
raw string is what we hash and store, the masked URL is what we show.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import apprise

from anomwatch.envvars import expand_env, has_env_ref
from anomwatch.errors import NotifyError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


@lru_cache(maxsize=1)
def known_schemes() -> frozenset[str]:
    schemes: set[str] = set()
    for details in apprise.Apprise().details()["schemas"]:
        for key in ("protocols", "secure_protocols"):
            value = details.get(key) or ()
            schemes.update([value] if isinstance(value, str) else value)
    return frozenset(s.lower() for s in schemes)


def make_apprise() -> apprise.Apprise:
    return apprise.Apprise(asset=apprise.AppriseAsset(app_id="anomwatch", secure_logging=True))


def check_target(raw: str) -> None:
    """Reject a target apprise cannot use; full parsing waits for secrets when ${VAR} is used."""
    match = _SCHEME.match(raw.strip())
    if not match:
        raise ValueError(
            "notify target must be an apprise URL like 'mailtos://…' or 'slack://…' "
            "(see https://github.com/caronc/apprise/wiki)"
        )
    scheme = match.group(1).lower()
    if scheme not in known_schemes():
        raise ValueError(f"unknown apprise scheme {scheme!r} in a notify target")
    if has_env_ref(raw):
        return
    if not make_apprise().add(raw):
        raise ValueError(
            f"apprise cannot parse the {scheme}:// target; check its host, tokens and arguments"
        )


def target_id(raw: str) -> str:
    """Stable id of a configured target; never the secret itself."""
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def resolve(raw: str, monitor: str) -> str:
    return expand_env(raw, f"monitor {monitor!r}: notify target")


def masked(raw: str) -> str:
    """A printable form of the target with secrets hidden."""
    if has_env_ref(raw):
        match = _SCHEME.match(raw)
        return f"{match.group(1) if match else '?'}://(from environment)"
    obj = make_apprise()
    if not obj.add(raw):
        raise NotifyError("unparsable notify target")
    return str(obj.urls(privacy=True)[0]).split("?")[0]
