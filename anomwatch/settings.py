"""Process-wide settings (ANOMWATCH_* environment variables or a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path(".anomwatch")


class Settings(BaseSettings):
    """Where the store, model files and monitors.yaml live.

    Defaults keep everything in ``./.anomwatch`` so a fresh checkout runs with no setup.
    """

    model_config = SettingsConfigDict(env_prefix="ANOMWATCH_", env_file=".env", extra="ignore")

    home: Path = Field(DEFAULT_HOME, description="directory for the SQLite store, models, plots")
    store_url: str | None = Field(
        None, description="SQLAlchemy URL of anomwatch's own store; default: SQLite in home"
    )
    monitors_file: Path = Field(Path("monitors.yaml"), description="path of monitors.yaml")
    lock_timeout_seconds: float = Field(
        3600.0, description="a monitor lock older than this is considered abandoned"
    )
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="where batches run: a thread pool, or a Dask cluster"
    )
    dask_address: str | None = Field(
        None, description="scheduler of an existing Dask cluster; unset: a LocalCluster"
    )
    max_workers: int = Field(2, ge=1, description="threads of the default task runner")
    serve_processes: int = Field(
        2, ge=1, description="`anomwatch serve`: warm processes running flow runs at once"
    )
    notify_timeout_seconds: float = Field(20.0, description="per-target send timeout")
    notify_retry_base_seconds: float = Field(
        60.0, description="first retry delay of a failed send; doubles per attempt, max 1 h"
    )
    notify_max_attempts: int = Field(50, description="after this many failures a send is 'dead'")
    db_attempts: int = Field(
        4, ge=1, description="tries of a tick's source read and store write when the database drops"
    )
    db_retry_base_seconds: float = Field(
        1.0, ge=0, description="wait before the second try; doubles per try, max 30 s"
    )

    web_base_url: str | None = Field(
        None,
        description="where `anomwatch web` is reached (https://host:port); digests link each "
        "event to its page when set",
    )
    web_users: str | None = Field(
        None,
        description="basic-auth users of `anomwatch web`: user:HASH[,user:HASH...] with hashes "
        "from `anomwatch web hash-password`",
    )
    web_token_hash: str | None = Field(
        None, description="hash of a bearer token accepted by `anomwatch web` (hash-password)"
    )

    @property
    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.home / 'store.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def plots_dir(self) -> Path:
        return self.home / "plots"
