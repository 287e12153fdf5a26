"""monitors.yaml: the one pydantic model that describes what to watch.

Every validation error is reported with the monitor's name, the field path and
what is allowed, so an operator can fix the file without reading code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import yaml
from cronsim import CronSim, CronSimError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from anomwatch.durations import parse_duration
from anomwatch.envvars import expand_env
from anomwatch.errors import ConfigError, UnknownMonitorError
from detector import DetectorConfig
from detector.events import EventParams

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """Where the metric rows are. The source is only ever read."""

    url: str | None = Field(None, description="SQLAlchemy URL; may contain ${ENV_VAR} parts")
    url_env: str | None = Field(None, description="name of an environment variable holding the URL")
    table: str | None = Field(None, description="table (or schema.table) holding the rows")
    query: str | None = Field(
        None, description="a SELECT with :since and :until bind parameters, instead of a table"
    )
    timestamp: str = Field(..., description="timestamp column")
    series: list[str] = Field(default_factory=list, description="dimension columns")
    values: list[str] = Field(..., min_length=1, description="numeric value columns")
    timezone: str = Field("UTC", description="timezone of naive timestamps in the source")
    context_lookback: timedelta = Field(
        timedelta(days=7), description="how far back to look for sequence context rows"
    )
    on_nan: Literal["drop", "interpolate", "reject"] = "drop"
    on_duplicate: Literal["last", "first", "reject"] = "last"
    max_rows_per_tick: int = Field(100_000, gt=0)
    statement_timeout: timedelta = Field(
        timedelta(minutes=5),
        description="longest one source statement may run before the database cancels it",
    )

    @field_validator("context_lookback", "statement_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of 'url' or 'url_env'")
        if (self.table is None) == (self.query is None):
            raise ValueError("set exactly one of 'table' or 'query'")
        if self.query is not None:
            for bind in (":since", ":until"):
                if not re.search(re.escape(bind) + r"\b", self.query):
                    raise ValueError(f"'query' must use the bind parameter {bind}")
        columns = [self.timestamp, *self.series, *self.values]
        if len(set(columns)) != len(columns):
            raise ValueError("timestamp, series and values columns must all be different")
        return self

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("statement_timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration, e.g. '30s' or '5m'")
        return value

    def resolved_url(self, monitor: str) -> str:
        if self.url_env is not None:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(
                    f"monitor {monitor!r}: source.url_env names {self.url_env}, which is not set"
                )
            return value
        assert self.url is not None
        return expand_env(self.url, f"monitor {monitor!r}: source.url")


def check_timezone(value: str) -> str:
    """An IANA time zone name (Europe/Berlin, UTC); checked here, not at the first run."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name like 'UTC' or 'Europe/Berlin'"
        ) from None
    return value


def check_cron(value: str) -> str:
    try:
        CronSim(value, datetime(2000, 1, 1))
    except (CronSimError, ValueError) as exc:
        raise ValueError(
            f"invalid cron expression {value!r} ({exc}); use 5 fields, e.g. '*/5 * * * *'"
        ) from None
    return value


class RetrainPolicy(_Strict):
    every: timedelta = Field(timedelta(days=1), description="retrain models this old or older")
    window: timedelta = Field(timedelta(days=14), description="history used for training")
    max_points: int = Field(20_000, gt=0, description="most recent points kept for training")

    def is_due(self, train_end: Any, anchor: Any) -> bool:
        """A model trained up to `train_end` is retrained at a tick anchored at `anchor`
        (datetimes or numpy datetime64) once it is `every` old: the one rule of the tick
        and of every replay. At least, not more than: hourly rows in 12-hour ticks would
        otherwise refit every 36 hours with `every: 1d`."""
        return bool(train_end <= anchor - self.every)

    @field_validator("every", "window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class FeedbackPolicy(_Strict):
    """When feedback labels re-choose the monitor's threshold (the retrain flow)."""

    auto_tune: bool = Field(
        True, description="the retrain flow re-tunes when there are new labels and enough of them"
    )
    min_labels: int = Field(20, gt=1, description="labelled anomalies needed before tuning")
    classifier: Literal["tree", "gradient-boosting"] | None = Field(
        None, description="also train a classifier on the component scores (needs 5 of each label)"
    )
    schedule: str = Field("0 3 * * *", description="cron of the retrain flow")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)


DEFAULT_CRITICAL_SCORE = 0.999


class SeverityPolicy(_Strict):
    """Which anomalies are 'critical' (the rest are 'warning').

    By default a point is critical when it is `critical_multiple` times as far out as
    its model's own alert threshold. The calibrated score is not used for that by
    default: past the training maximum it depends on how many training rows there
    were, so with two weeks of 5-minute rows every flag would be critical."""

    critical_multiple: float = Field(
        1.5,
        gt=1,
        description="critical when the detector's statistic is at least this multiple of "
        "the model's alert threshold (sigma and dynamic thresholds)",
    )
    critical_score: float | None = Field(
        None,
        gt=0,
        le=1,
        description="if set, critical when the score is at least this instead; models "
        f"without an error threshold (quantile, f1) use it, default {DEFAULT_CRITICAL_SCORE}",
    )

    def ranks(self, score: np.ndarray, margin: np.ndarray | None) -> np.ndarray:
        """1 (warning) or 2 (critical) per row."""
        score = np.asarray(score, dtype=float)
        if self.critical_score is not None or margin is None:
            floor = DEFAULT_CRITICAL_SCORE if self.critical_score is None else self.critical_score
            return np.where(score >= floor, 2, 1)
        return np.where(np.asarray(margin, dtype=float) >= self.critical_multiple, 2, 1)


class TargetConfig(_Strict):
    """A target that only hears of anomalies at or above its own severity."""

    url: str
    min_severity: Literal["warning", "critical"] = "warning"


class NotifyConfig(_Strict):
    targets: list[str | TargetConfig] = Field(
        default_factory=list,
        description="apprise URLs (or {url, min_severity}); ${ENV_VAR} parts are filled at "
        "send time",
    )
    min_severity: Literal["warning", "critical"] = "warning"
    max_items: int = Field(10, gt=0, description="events listed in full in one digest")
    max_messages_per_hour: int = Field(
        6, gt=0, description="digests per hour; later anomalies wait for the next digest"
    )

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("event_gap", "repeat_window"):
                if key in data:
                    raise ValueError(
                        f"notify.{key} was replaced by alert events: remove it and set "
                        "events.resolve_after (quiet time that ends an event, default 1h)"
                    )
        return data

    @field_validator("targets")
    @classmethod
    def _known_schemes(cls, targets: list[str | TargetConfig]) -> list[str | TargetConfig]:
        from anomwatch.notify.targets import check_target

        for target in targets:
            check_target(target if isinstance(target, str) else target.url)
        return targets

    def target_list(self) -> list[TargetConfig]:
        """Every target with its severity floor (a plain URL takes the monitor's)."""
        return [
            TargetConfig(url=t, min_severity=self.min_severity) if isinstance(t, str) else t
            for t in self.targets
        ]


class EventsPolicy(EventParams):
    """When anomalous points form one alert and when it speaks again (durations as '1h')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("resolve_after", "new_normal_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta | None:
        return None if value is None else parse_duration(value)

    @field_validator("resolve_after", "new_normal_after")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("must be a positive duration, e.g. '30m' or '6h'")
        return value


class HealthPolicy(_Strict):
    """When the monitoring itself is broken: each failing check opens a health event."""

    enabled: bool = Field(True, description="false: no health events for this monitor")
    failed_runs: int = Field(3, ge=1, description="this many failed runs in a row")
    expect_data_every: timedelta | None = Field(
        None,
        description="no new source rows for longer than this is 'no data'; "
        "null = 3 times the data's own step",
    )
    notify_pending_after: timedelta = Field(
        timedelta(hours=1), description="a message still unsent this long after it was made"
    )
    training_failures: int = Field(
        3, ge=1, description="this many runs in a row in which a series' training failed"
    )

    @field_validator("expect_data_every", "notify_pending_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta | None:
        return None if value is None else parse_duration(value)

    @field_validator("expect_data_every", "notify_pending_after")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("must be a positive duration, e.g. '15m' or '1h'")
        return value


class MonitorConfig(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str = ""
    source: SourceConfig
    schedule: str = Field("*/5 * * * *", description="cron expression")
    timezone: str = "UTC"
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    retrain: RetrainPolicy = Field(default_factory=RetrainPolicy)
    severity: SeverityPolicy = Field(default_factory=SeverityPolicy)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    events: EventsPolicy = Field(default_factory=EventsPolicy)
    health: HealthPolicy = Field(default_factory=HealthPolicy)
    feedback: FeedbackPolicy = Field(default_factory=FeedbackPolicy)
    retention: timedelta | None = Field(
        None,
        description="delete the monitor's anomalies, resolved events, runs and sent messages "
        "older than this (the retrain flow, on feedback.schedule); null = keep everything",
    )
    batch_size: int = Field(200, gt=0, description="series per parallel fit/score task")
    lstm_sharing: Literal["per_series", "per_monitor"] = Field(
        "per_series",
        description="per_monitor: one LSTM (forecaster/autoencoder) for all series of the "
        "monitor on per-series standardised windows, calibrated per series; Isolation "
        "Forests and other components stay per series",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, value: Any) -> timedelta | None:
        if value is None:
            return None
        keep = parse_duration(value)
        if keep < timedelta(days=1):
            raise ValueError("keep at least a day of history, e.g. '90d'; null keeps everything")
        return keep

    @model_validator(mode="after")
    def _threshold_without_labels(self) -> MonitorConfig:
        if self.detector.threshold == "f1":
            raise ValueError(
                "detector.threshold: f1 needs labels when the model is trained, and scheduled "
                "training has none; use quantile, sigma or dynamic, and let feedback labels "
                "re-choose the threshold (feedback.auto_tune, `anomwatch anomalies tune`)"
            )
        return self

    @model_validator(mode="after")
    def _sharing_needs_an_lstm(self) -> MonitorConfig:
        if self.lstm_sharing == "per_monitor" and not any(
            c.startswith("lstm_") for c in self.detector.components
        ):
            raise ValueError(
                "lstm_sharing: per_monitor shares an LSTM, but detector.components has none; "
                "add lstm_forecaster or lstm_autoencoder, or remove lstm_sharing"
            )
        return self

    def config_hash(self) -> str:
        """Hash of what affects models: source shape and detector settings."""
        relevant: dict[str, Any] = {
            "values": self.source.values,
            "detector": self.detector.model_dump(mode="json"),
        }
        if self.lstm_sharing != "per_series":  # unchanged hash (and models) by default
            relevant["lstm_sharing"] = self.lstm_sharing
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


class MonitorsFile(_Strict):
    monitors: list[MonitorConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> MonitorsFile:
        seen: set[str] = set()
        for monitor in self.monitors:
            if monitor.name in seen:
                raise ValueError(f"monitor name {monitor.name!r} is used twice")
            seen.add(monitor.name)
        return self

    def get(self, name: str) -> MonitorConfig:
        for monitor in self.monitors:
            if monitor.name == name:
                return monitor
        raise UnknownMonitorError(name, [m.name for m in self.monitors])


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    loc = list(error["loc"])
    where = "monitors.yaml"
    if len(loc) >= 2 and loc[0] == "monitors" and isinstance(loc[1], int):
        entries = raw.get("monitors") or []
        entry = entries[loc[1]] if loc[1] < len(entries) else {}
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"monitor {name!r}" if name else f"monitor #{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or "(entry)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see README 'monitors.yaml reference')"
    return f"{where}: {field}: {message}"


def parse_monitors(raw: Any, origin: str = "monitors.yaml") -> MonitorsFile:
    if raw is None:
        raise ConfigError(f"{origin} is empty; add a 'monitors:' list (see README)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with a 'monitors' list")
    try:
        return MonitorsFile.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(err, raw) for err in exc.errors()]  # type: ignore[arg-type]
        raise ConfigError(f"{origin} is invalid:\n  " + "\n  ".join(lines)) from None


def load_monitors(path: Path) -> MonitorsFile:
    if not path.exists():
        raise ConfigError(
            f"{path} not found; write one (see README) or set ANOMWATCH_MONITORS_FILE"
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_monitors(raw, str(path))
