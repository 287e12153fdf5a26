"""The whole tick as a real Prefect flow, on each backend, with a real SMTP server."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notify_servers import SmtpServer  # noqa: E402

from anomwatch.demo import STEP, Incident, simulate, write_rows  # noqa: E402
from anomwatch.durations import utcnow  # noqa: E402
from anomwatch.store.anomalies import get_watermarks, query_anomalies  # noqa: E402
from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.outbox import list_notifications  # noqa: E402
from anomwatch.store.runs import list_runs  # noqa: E402
from anomwatch.store.schema import anomalies, models, notifications, runs, thresholds  # noqa: E402
from flows.monitor import monitor_tick  # noqa: E402

pytestmark = [pytest.mark.flows, pytest.mark.slow]

T0 = datetime(2026, 11, 20, 0, 0)
HOSTS = ("a", "b")
METRICS = {"cpu": (40.0, 15.0, 2.0)}
SPIKE = Incident("b", "cpu", "spike", T0 + timedelta(minutes=30), 1)


async def table_artifact(key: str) -> list[dict]:
    """The newest table artifact under `key`, as Prefect stores it."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:
        (artifact,) = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


def rows(start: datetime, end: datetime, incidents: tuple[Incident, ...] = (SPIKE,)):
    return simulate(start, end, incidents, hosts=HOSTS, metrics=METRICS)


class Deployment:
    """A store, a source and a monitors.yaml, as an operator would set them up."""

    def __init__(self, databases, tmp_path: Path, monkeypatch, targets: list[str]) -> None:
        self.source_url = databases.new("src")
        self.store_url = databases.new("store")
        self.store = Store(self.store_url)
        self.store.migrate()
        self.monitors_file = tmp_path / "monitors.yaml"
        self.write_monitors(targets)
        self.home = tmp_path / "home"
        self.monkeypatch = monkeypatch
        self.use()

    def use(self) -> None:
        """Point the settings at this deployment (a test may run two side by side)."""
        self.monkeypatch.setenv("ANOMWATCH_HOME", str(self.home))
        self.monkeypatch.setenv("ANOMWATCH_STORE_URL", self.store_url)
        self.monkeypatch.setenv("ANOMWATCH_NOTIFY_RETRY_BASE_SECONDS", "0")
        self.monkeypatch.setenv("ANOMWATCH_NOTIFY_TIMEOUT_SECONDS", "5")

    def write_monitors(self, targets: list[str], **source) -> None:
        spec = {
            "url": self.source_url,
            "table": "metrics",
            "timestamp": "ts",
            "series": ["host", "metric"],
            "values": ["value"],
            **source,
        }
        self.monitors_file.write_text(
            yaml.safe_dump(
                {
                    "monitors": [
                        {
                            "name": "hosts",
                            "source": spec,
                            "schedule": "*/5 * * * *",
                            "detector": {
                                "components": ["iforest"],
                                "contamination": 0.01,
                                "seed": 1,
                            },
                            "notify": {"targets": targets},
                        }
                    ]
                }
            )
        )

    def tick(self, until: datetime, monitor: str = "hosts") -> dict:
        self.use()
        return monitor_tick(monitor, monitors_file=str(self.monitors_file), until=until)

    def counts(self) -> dict[str, int]:
        with self.store.engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (anomalies, models, notifications)
            }


def test_end_to_end_tick_stores_notifies_once_and_reruns_change_nothing(
    databases, tmp_path, monkeypatch
) -> None:
    with SmtpServer() as smtp:
        dep = Deployment(databases, tmp_path, monkeypatch, [smtp.target()])
        write_rows(dep.source_url, rows(T0 - timedelta(days=2), T0 + STEP))

        first = dep.tick(T0)
        assert first["status"] == "succeeded"
        assert first["models_trained"] == 2 and first["new_anomalies"] == 0
        assert get_watermarks(dep.store, "hosts") == {
            "host=a,metric=cpu": T0,
            "host=b,metric=cpu": T0,
        }

        write_rows(dep.source_url, rows(T0 + STEP, T0 + timedelta(hours=1) + STEP))
        second = dep.tick(T0 + timedelta(hours=1))
        assert second["status"] == "succeeded"
        assert second["models_trained"] == 0  # models reused
        assert second["points_scored"] == 2 * 12
        found = list(query_anomalies(dep.store, monitor="hosts"))
        assert (SPIKE.start, "host=b,metric=cpu") in {(r["ts"], r["series"]) for r in found}
        published = asyncio.run(table_artifact("hosts-anomalies"))
        assert sorted(row["id"] for row in published) == sorted(second["anomaly_ids"])
        assert {(row["series"], row["ts"]) for row in published} == {
            (r["series"], r["ts"].isoformat()) for r in found
        }
        assert all(r["notified_at"] is not None for r in found)
        assert len(smtp.messages) == 1
        mail = smtp.messages[0]
        assert "[anomwatch] hosts:" in mail["Subject"]
        parts = {p.get_content_type(): p for p in mail.walk()}
        assert "host=b,metric=cpu" in parts["text/html"].get_payload(decode=True).decode()
        assert parts["image/png"].get_payload(decode=True).startswith(b"\x89PNG")

        before = dep.counts()
        third = dep.tick(T0 + timedelta(hours=1))  # nothing new arrived
        assert third["points_scored"] == 0 and third["new_anomalies"] == 0
        assert dep.counts() == before
        assert len(smtp.messages) == 1

        statuses = [r["status"] for r in list_runs(dep.store, "hosts")]
        assert statuses == ["succeeded", "succeeded", "succeeded"]
        dep.store.dispose()


def test_tuned_minimum_score_flags_only_points_at_or_above_it_in_later_ticks(
    sqlite_databases, tmp_path, monkeypatch
) -> None:
    """Two identical deployments; one gets a tuned minimum score between two ticks."""
    incidents = (SPIKE, Incident("a", "cpu", "shift", T0 + timedelta(minutes=20), 4))
    deps = {}
    for name in ("own", "tuned"):
        (tmp_path / name).mkdir()
        dep = Deployment(sqlite_databases, tmp_path / name, monkeypatch, [])
        spec = yaml.safe_load(dep.monitors_file.read_text())
        # the forest with its contamination quantile and no event budget: the incidents
        # give several flagged points with distinct scores (the range guard ranks them)
        spec["monitors"][0]["detector"].update(threshold="quantile", max_events_per_week=None)
        dep.monitors_file.write_text(yaml.safe_dump(spec))
        write_rows(
            dep.source_url, rows(T0 - timedelta(days=2), T0 + timedelta(hours=1) + STEP, incidents)
        )
        dep.tick(T0)
        deps[name] = dep
    own, tuned = deps["own"], deps["tuned"]
    own.tick(T0 + timedelta(hours=1))
    flagged = {
        (r["series"], r["ts"], r["score"]) for r in query_anomalies(own.store, monitor="hosts")
    }
    scores = sorted({score for _, _, score in flagged})
    assert len(scores) >= 2, f"the incidents should give several distinct scores: {scores}"
    minimum = scores[1]  # a flagged score itself: "at or above" keeps it
    with tuned.store.begin() as conn:
        conn.execute(
            thresholds.insert().values(
                monitor="hosts",
                threshold=minimum,
                n_labels=20,
                precision=1.0,
                recall=1.0,
                chosen_by="test",
                chosen_at=utcnow(),
            )
        )
    tuned.tick(T0 + timedelta(hours=1))
    kept = {
        (r["series"], r["ts"], r["score"]) for r in query_anomalies(tuned.store, monitor="hosts")
    }
    assert kept == {f for f in flagged if f[2] >= minimum}
    assert len(kept) < len(flagged)
    own.store.dispose()
    tuned.store.dispose()


def test_smtp_down_keeps_digest_pending_until_next_tick(databases, tmp_path, monkeypatch) -> None:
    smtp = SmtpServer()
    dep = Deployment(databases, tmp_path, monkeypatch, [smtp.target()])
    write_rows(dep.source_url, rows(T0 - timedelta(days=2), T0 + STEP))
    dep.tick(T0)
    write_rows(dep.source_url, rows(T0 + STEP, T0 + timedelta(hours=1) + STEP))
    result = dep.tick(T0 + timedelta(hours=1))  # SMTP server not running yet
    assert result["new_anomalies"] >= 1 and result["notify_failed"]
    pending = list_notifications(dep.store, "hosts")
    assert [(n["status"], n["attempts"]) for n in pending] == [("pending", 1)]
    assert pending[0]["last_error"]
    with smtp:
        again = dep.tick(T0 + timedelta(hours=1))
        assert again["new_anomalies"] == 0
        assert len(smtp.messages) == 1
        dep.tick(T0 + timedelta(hours=1))
        assert len(smtp.messages) == 1
    assert [n["status"] for n in list_notifications(dep.store, "hosts")] == ["sent"]
    dep.store.dispose()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"table": "missing_table"}, "table 'missing_table' not found"),
        ({"values": ["nope"]}, "column(s) 'nope' not found"),
        ({"url": "postgresql+psycopg://u:pw@127.0.0.1:1/x"}, "unreachable"),
    ],
)
def test_bad_source_fails_the_run_with_the_cause_and_moves_no_watermark(
    sqlite_databases, tmp_path, monkeypatch, change, expected
) -> None:
    dep = Deployment(sqlite_databases, tmp_path, monkeypatch, [])
    write_rows(dep.source_url, rows(T0 - timedelta(days=2), T0 + STEP))
    dep.tick(T0)
    marks = get_watermarks(dep.store, "hosts")
    dep.write_monitors([], **change)
    with pytest.raises(Exception, match="monitor 'hosts'"):
        dep.tick(T0 + timedelta(hours=1))
    last = list_runs(dep.store, "hosts")[0]
    assert last["status"] == "failed" and expected in last["error"]
    assert "pw@" not in last["error"]
    assert get_watermarks(dep.store, "hosts") == marks
    dep.store.dispose()


def test_unknown_monitor_is_a_clear_error(sqlite_databases, tmp_path, monkeypatch) -> None:
    dep = Deployment(sqlite_databases, tmp_path, monkeypatch, [])
    with pytest.raises(Exception, match="unknown monitor 'nope'; configured monitors: hosts"):
        dep.tick(T0, monitor="nope")
    with dep.store.engine.connect() as conn:
        recorded = conn.execute(select(runs.c.monitor, runs.c.status, runs.c.error)).all()
    assert [(r.monitor, r.status) for r in recorded] == [("nope", "failed")]
    assert "unknown monitor 'nope'" in recorded[0].error
    dep.store.dispose()


def test_empty_source_fails_the_first_run_clearly(sqlite_databases, tmp_path, monkeypatch):
    dep = Deployment(sqlite_databases, tmp_path, monkeypatch, [])
    write_rows(dep.source_url, rows(T0, T0))  # creates the table, no rows
    with pytest.raises(Exception, match="monitor 'hosts': the source has no rows"):
        dep.tick(T0)
    assert list_runs(dep.store, "hosts")[0]["status"] == "failed"
    dep.store.dispose()


def test_bad_cron_records_a_failed_run(sqlite_databases, tmp_path, monkeypatch) -> None:
    dep = Deployment(sqlite_databases, tmp_path, monkeypatch, [])
    text = dep.monitors_file.read_text().replace("*/5 * * * *", "61 * * * *")
    dep.monitors_file.write_text(text)
    with pytest.raises(Exception, match="monitor 'hosts': schedule: invalid cron"):
        dep.tick(T0)
    assert list_runs(dep.store, "hosts")[0]["status"] == "failed"
    dep.store.dispose()


def test_too_few_rows_record_cold_start_not_an_error(sqlite_databases, tmp_path, monkeypatch):
    dep = Deployment(sqlite_databases, tmp_path, monkeypatch, [])
    write_rows(dep.source_url, rows(T0 - timedelta(hours=1), T0))  # 12 rows/series: too few
    result = dep.tick(T0)
    assert result["status"] == "succeeded"
    assert result["cold_start"] == ["host=a,metric=cpu", "host=b,metric=cpu"]
    assert get_watermarks(dep.store, "hosts") == {}
    dep.store.dispose()


def test_overlapping_run_is_skipped_with_a_clear_message(sqlite_databases, tmp_path, monkeypatch):
    from anomwatch.store.locks import acquire, release

    dep = Deployment(sqlite_databases, tmp_path, monkeypatch, [])
    write_rows(dep.source_url, rows(T0 - timedelta(days=2), T0 + timedelta(hours=1) + STEP))
    dep.tick(T0)
    acquire(dep.store, "hosts", "other-worker:42", timedelta(minutes=10))
    skipped = dep.tick(T0 + timedelta(hours=1))
    assert skipped["status"] == "skipped"
    assert "monitor 'hosts' is already running since" in skipped["error"]
    assert "other-worker:42" in skipped["error"]
    assert get_watermarks(dep.store, "hosts")["host=a,metric=cpu"] == T0  # did nothing
    release(dep.store, "hosts", "other-worker:42")
    done = dep.tick(T0 + timedelta(hours=1))
    assert done["status"] == "succeeded" and done["new_anomalies"] >= 1
    assert [r["status"] for r in list_runs(dep.store, "hosts")] == [
        "succeeded",
        "skipped",
        "succeeded",
    ][::-1]
    dep.store.dispose()
