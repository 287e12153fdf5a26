"""Per-monitor lock in the store, so two runs of one monitor never interleave.

A row in `locks` is the lock; inserting it is atomic on every backend (primary
key). A lock older than its expiry is taken over, so a killed run cannot block a
monitor forever.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from anomwatch.durations import utcnow
from anomwatch.errors import MonitorLockedError
from anomwatch.store.db import Store
from anomwatch.store.schema import locks


def new_holder_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(store: Store, name: str, holder: str, ttl: timedelta) -> None:
    now = utcnow()
    with store.begin() as conn:
        conn.execute(delete(locks).where(locks.c.name == name, locks.c.expires_at < now))
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(locks).values(
                    name=name, holder=holder, acquired_at=now, expires_at=now + ttl
                )
            )
    except IntegrityError:
        with store.begin() as conn:
            row = conn.execute(select(locks).where(locks.c.name == name)).first()
        since = f" since {row.acquired_at:%Y-%m-%d %H:%M:%S} UTC by {row.holder}" if row else ""
        raise MonitorLockedError(
            f"monitor {name!r} is already running{since}; this run exits without doing work"
        ) from None


def release(store: Store, name: str, holder: str) -> None:
    with store.begin() as conn:
        conn.execute(delete(locks).where(locks.c.name == name, locks.c.holder == holder))


@contextmanager
def monitor_lock(store: Store, name: str, ttl: timedelta) -> Iterator[str]:
    holder = new_holder_id()
    acquire(store, name, holder, ttl)
    try:
        yield holder
    finally:
        release(store, name, holder)
