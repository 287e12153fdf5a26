"""Where the CLI meets Prefect: is there an API, can we reach it, and keep its noise down.

A one-off `run` or `retrain` without `PREFECT_API_URL` calls the flow's plain
functions (no temporary server, no telemetry); with one, the run is a tracked
flow run, and an API that cannot be reached is one clear error up front, as it
is for `serve`, which would otherwise poll forever and never run anything.
"""

from __future__ import annotations

import os

from anomwatch.errors import AnomwatchError

HEALTH_TIMEOUT_SECONDS = 5.0
HOW_TO_START = (
    "start one with `prefect server start` and set "
    "PREFECT_API_URL=http://127.0.0.1:4200/api (or point it at your Prefect server)"
)


class PrefectUnavailableError(AnomwatchError):
    """No Prefect API that can schedule or track runs."""


def quiet_prefect() -> None:
    """No telemetry from a machine that may have no internet (set before Prefect loads)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile."""
    quiet_prefect()
    value = os.environ.get("PREFECT_API_URL")
    if value is None:  # not in the environment: the active profile may set it
        from prefect.settings import PREFECT_API_URL

        value = PREFECT_API_URL.value()
    return str(value).rstrip("/") if value else None


def require_api(why: str) -> str:
    """The API URL, after checking that the API answers; else one error saying what to do."""
    url = api_url()
    if url is None:
        raise PrefectUnavailableError(f"PREFECT_API_URL is not set, so {why}; {HOW_TO_START}")
    check_api(url, why)
    return url


def check_api(url: str, why: str, hint: str = HOW_TO_START) -> None:
    """GET {url}/health: a refused connection, a timeout or an error status is fatal."""
    import httpx

    try:
        response = httpx.get(f"{url}/health", timeout=HEALTH_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise PrefectUnavailableError(
            f"the Prefect API at {url} (PREFECT_API_URL) is unreachable "
            f"({type(exc).__name__}: {exc or 'no answer'}), so {why}; {hint}"
        ) from None
    if response.status_code in (401, 403):
        raise PrefectUnavailableError(
            f"the Prefect API at {url} refused us (HTTP {response.status_code}): "
            "authentication failed; check PREFECT_API_KEY"
        )
    if response.status_code >= 400:
        raise PrefectUnavailableError(
            f"the Prefect API at {url} answered HTTP {response.status_code} to /health, "
            f"so {why}; is PREFECT_API_URL the API's URL (ending in /api)?"
        )
