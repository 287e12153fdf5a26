"""Store tables (SQLAlchemy Core). Alembic migrations target this metadata.

Portable across SQLite, PostgreSQL and MariaDB: naive-UTC timestamps with
microseconds, bounded VARCHARs for indexed columns (MariaDB key length), JSON kept
as text so every backend stores it the same way.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MONITOR_LEN = 100
SERIES_LEN = 255

# DATETIME(6) on MariaDB: its default DATETIME drops fractions of a second.
Timestamp = DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

monitors = Table(
    "monitors",
    metadata,
    Column("name", String(MONITOR_LEN), primary_key=True),
    Column("config_hash", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("series", String(SERIES_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("trained_at", Timestamp, nullable=False),
    Column("train_start", Timestamp),
    Column("train_end", Timestamp),
    Column("n_rows", Integer, nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("artifact_path", String(1000), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("metrics", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    UniqueConstraint("monitor", "series", "version"),
    Index("ix_models_active", "monitor", "series", "active"),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("monitor", String(MONITOR_LEN), primary_key=True),
    Column("series", String(SERIES_LEN), primary_key=True),
    Column("last_ts", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("flow_run_id", String(64)),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    Column("status", String(16), nullable=False),
    Column("series", Integer, nullable=False, default=0),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("points_scored", Integer, nullable=False, default=0),
    Column("anomalies", Integer, nullable=False, default=0),
    Column("models_trained", Integer, nullable=False, default=0),
    Column("cold_start", Integer, nullable=False, default=0),
    Column("details", Text),
    Column("error", Text),
    Index("ix_runs_monitor_started", "monitor", "started_at"),
)

anomalies = Table(
    "anomalies",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("series", String(SERIES_LEN), nullable=False),
    Column("ts", Timestamp, nullable=False),
    Column("value", Double, nullable=False),
    Column("expected", Double),
    Column("lower", Double),
    Column("upper", Double),
    Column("score", Double, nullable=False),
    Column("components", Text, nullable=False),
    Column("feature_values", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("model_id", BigId, ForeignKey("models.id")),
    Column("run_id", BigId, ForeignKey("runs.id")),
    Column("status", String(20), nullable=False, default="open"),
    Column("label", String(20)),
    Column("labelled_by", String(100)),
    Column("labelled_at", Timestamp),
    Column("digest_id", BigId),
    Column("suppressed", String(32)),
    Column("notified_at", Timestamp),
    Column("created_at", Timestamp, nullable=False),
    Column("event_id", BigId, ForeignKey("events.id")),
    UniqueConstraint("monitor", "series", "ts"),
    Index("ix_anomalies_monitor_ts", "monitor", "ts"),
    Index("ix_anomalies_digest", "monitor", "digest_id"),
    Index("ix_anomalies_event", "event_id"),
    Index("ix_anomalies_monitor_severity", "monitor", "severity"),  # the exporter's counts
)

# One alert: consecutive anomalous points of a series (kind 'anomaly', grouped by
# detector/events.py), or a failing health check of the monitor (kind 'health',
# series = the check's name). The unit of notification: a digest announces the
# event's pending `notice` (opened, escalated, new_normal; resolved for health).
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("series", String(SERIES_LEN), nullable=False),
    Column("kind", String(16), nullable=False),  # anomaly | health
    Column("status", String(16), nullable=False),  # open | new_normal | resolved
    Column("started_at", Timestamp, nullable=False),
    Column("last_at", Timestamp, nullable=False),  # last anomalous point (last failed check)
    Column("held_at", Timestamp),  # last row that held it open, away from normal (0008)
    Column("resolved_at", Timestamp),
    Column("new_normal_at", Timestamp),
    Column("first_score", Double),
    Column("peak_score", Double),
    Column("peak_ts", Timestamp),
    Column("severity", String(16), nullable=False),
    Column("n_points", Integer, nullable=False),
    Column("quiet_rows", Integer, nullable=False, server_default="0"),
    Column("announced_severity", String(16)),
    Column("announced_peak", Double),
    Column("detail", Text),  # health: what is wrong, in words
    Column("notice", String(16)),  # transition waiting for the next digest
    Column("notice_at", Timestamp),
    Column("suppressed", String(32)),  # why it was not announced (backfill, snoozed)
    Column("digest_id", BigId, ForeignKey("digests.id")),  # the last digest announcing it
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("monitor", "series", "kind", "started_at"),
    Index("ix_events_monitor_status", "monitor", "status"),
    Index("ix_events_monitor_started", "monitor", "started_at"),
    Index("ix_events_monitor_notice", "monitor", "notice"),
)

# Rows up to last_ts of a series have been fed to its events: a rerun, a resumed
# backfill or an overlapping range never feeds a row twice.
event_cursors = Table(
    "event_cursors",
    metadata,
    Column("monitor", String(MONITOR_LEN), primary_key=True),
    Column("series", String(SERIES_LEN), primary_key=True),
    Column("last_ts", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

digests = Table(
    "digests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("run_id", BigId, ForeignKey("runs.id")),
    Column("created_at", Timestamp, nullable=False),
    Column("n_anomalies", Integer, nullable=False),
    Column("plot_path", String(1000)),
    Column("events", Text),  # JSON: the event lines as announced (stable across retries)
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("digest_id", BigId, ForeignKey("digests.id"), nullable=False),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("target", String(SERIES_LEN), nullable=False),
    Column("target_label", String(SERIES_LEN), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", Timestamp),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    UniqueConstraint("digest_id", "target"),
    Index("ix_notifications_pending", "monitor", "status"),
)

backfills = Table(
    "backfills",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("since", Timestamp, nullable=False),
    Column("until", Timestamp, nullable=False),
    Column("position", Timestamp),  # rows up to here are scored and stored
    Column("status", String(16), nullable=False),
    Column("rows_read", BigInteger, nullable=False, default=0),
    Column("anomalies", BigInteger, nullable=False, default=0),
    Column("started_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("error", Text),
    Index("ix_backfills_monitor", "monitor", "status"),
)

snoozes = Table(
    "snoozes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("series", String(SERIES_LEN)),
    Column("until", Timestamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_snoozes_monitor_until", "monitor", "until"),
)

thresholds = Table(
    "thresholds",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("threshold", Double, nullable=False),
    Column("n_labels", Integer, nullable=False),
    Column("precision", Double, nullable=False),
    Column("recall", Double, nullable=False),
    Column("chosen_by", String(100), nullable=False),
    Column("chosen_at", Timestamp, nullable=False),
    Index("ix_thresholds_monitor", "monitor", "chosen_at"),
)

# Supervised filters trained on feedback labels (`anomalies tune --classifier`):
# predicted false positives of later ticks are stored with suppressed='classifier'.
classifiers = Table(
    "classifiers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor", String(MONITOR_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("features", Text, nullable=False),  # JSON list, the column order of the model
    Column("n_labels", Integer, nullable=False),
    Column("artifact_path", String(1000), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("metrics", Text, nullable=False),  # JSON: cross-validated precision/recall, counts
    Column("trained_by", String(100), nullable=False),
    Column("trained_at", Timestamp, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    UniqueConstraint("monitor", "version"),
    Index("ix_classifiers_monitor_active", "monitor", "active"),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(MONITOR_LEN), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("acquired_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
)

# -- offline analysis (`anomwatch detect`, anomwatch/offline.py) --------------------------
# One row per run; the run's points live in their own table `table_name`
# (detect_<file>_c<contamination>), created at run time, not by migrations.
detect_runs = Table(
    "detect_runs",
    metadata,
    Column("run_key", String(200), primary_key=True),
    Column("table_name", String(64), nullable=False),
    Column("source_file", String(1000), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("contamination", Double, nullable=False),
    Column("components", String(200), nullable=False),
    Column("value_columns", Text, nullable=False),  # JSON: table column -> CSV column
    Column("label_column", String(SERIES_LEN)),
    Column("n_points", Integer, nullable=False),
    Column("n_anomalies", Integer, nullable=False),
    Column("rows_stored", Integer, nullable=False),
    Column("threshold", Double, nullable=False),
    Column("precision", Double),
    Column("recall", Double),
    Column("f1", Double),
    Column("average_precision", Double),
    Column("first_ts", Timestamp, nullable=False),
    Column("last_ts", Timestamp, nullable=False),
    Column("plot_dir", String(1000)),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("table_name"),
)

_RUN_TABLE = re.compile(r"^detect_(?!runs$)\w+$")


def include_in_autogenerate(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's include_object: per-run `detect_*` tables are data made at run time,
    so autogenerate must not propose dropping them."""
    is_run_table = type_ == "table" and reflected and compare_to is None
    return not (is_run_table and name is not None and bool(_RUN_TABLE.match(name)))
