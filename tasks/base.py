"""How our tasks are declared: results stay in memory, never cached or persisted.

Tick inputs (DataFrames, loaded models, a Store) do not pickle into Prefect's
cache keys, and the store is the source of truth for what was done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

F = TypeVar("F", bound=Callable[..., Any])


def pipeline_task(name: str, **options: Any) -> Callable[[F], Any]:
    return task(name=name, cache_policy=NO_CACHE, persist_result=False, **options)
