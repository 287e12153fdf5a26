"""Many monitors under `anomwatch serve` with a real Prefect server: CPU per run.

    nice -n 5 .venv/bin/python bench/many_monitors.py [--monitors 100] [--series 10]
        [--schedule "*/5 * * * *"] [--minutes 15] [--store-url URL]

N monitors of `--series` series each (5-minute rows in one SQLite source, one
monitor per metric through a `query`) are trained first by plain in-process ticks
(the first run's training is not what repeats every 5 minutes), then served on their
schedule by `anomwatch serve` against `prefect server start` on a free local port
(both started and stopped here) for `--minutes`. Afterwards the same monitors tick
the same way in this process without Prefect (`anomwatch run`'s plain path), which
is the tick's own work. Printed: served runs, runs that did not finish within their
period or started late, CPU seconds per served run (the serve process and the flow
run processes it starts), the Prefect server's CPU per run, the tick's own CPU per
run and the share of a served run's CPU spent outside the tick's own work.

The store is a fresh PostgreSQL database on the local server when reachable (dropped
at the end), else SQLite. Writes to a temporary folder only. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql+psycopg://root@127.0.0.1:5432/postgres"
CLI = "import sys; sys.argv[0] = 'anomwatch'; from anomwatch.cli import main; main()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU of a process, its reaped children and its live ones."""
    total = 0.0
    try:
        t = proc.cpu_times()
        total += t.user + t.system + t.children_user + t.children_system
        for child in proc.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def make_store(url: str | None) -> tuple[str, str | None]:
    """(store URL, database to drop at the end)."""
    if url:
        return url, None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"aw_bench_{uuid.uuid4().hex[:8]}"
    try:
        engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
    except Exception:  # noqa: BLE001 - no PostgreSQL here: SQLite
        return "", None
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), name


def drop_store(name: str | None) -> None:
    if name is None:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


def write_setup(work: Path, n: int, series: int, schedule: str, until: datetime) -> Path:
    from anomwatch.demo import simulate, write_rows

    source = f"sqlite:///{work / 'source.db'}"
    metrics = {f"m{i}": (40.0 + i, 10.0, 2.0) for i in range(n)}
    hosts = tuple(f"h{j}" for j in range(series))
    write_rows(source, simulate(until - timedelta(days=3), until, (), hosts, metrics))
    monitors = [
        {
            "name": f"m{i}",
            "source": {
                "url": source,
                "query": f"SELECT ts, host, value FROM metrics WHERE metric = 'm{i}' "  # noqa: S608
                "AND ts > :since AND ts <= :until",
                "timestamp": "ts",
                "series": ["host"],
                "values": ["value"],
            },
            "schedule": schedule,
            "retrain": {"every": "7d", "window": "3d"},
            "feedback": {"auto_tune": False},
            "health": {"enabled": False},
        }
        for i in range(n)
    ]
    path = work / "monitors.yaml"
    path.write_text(yaml.safe_dump({"monitors": monitors}, sort_keys=False))
    return path


def plain_ticks(path: Path, names: list[str], until: datetime) -> float:
    """CPU seconds of one plain in-process tick of each monitor (the tick's own work)."""
    from flows.monitor import tick_monitor
    from flows.runtime import plain_steps

    began = time.process_time()
    with plain_steps(1) as steps:
        for name in names:
            result = tick_monitor(name, str(path), until, steps)
            if result["status"] not in ("succeeded", "partial"):
                raise SystemExit(f"plain tick of {name}: {result}")
    return time.process_time() - began


def wait_for_api(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("prefect server exited; see its log in the work folder")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"prefect server at {url} did not answer within {timeout:.0f} s")


def served_runs(store_url: str, since: datetime) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from anomwatch.store.db import Store
    from anomwatch.store.schema import runs

    store = Store(store_url)
    with store.begin() as conn:
        rows = conn.execute(
            select(runs).where(runs.c.started_at >= since, runs.c.flow_run_id.is_not(None))
        ).mappings()
        out = [dict(r) for r in rows]
    store.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--schedule", default="*/5 * * * *")
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--store-url", default=None)
    args = parser.parse_args()

    from cronsim import CronSim

    work = Path(tempfile.mkdtemp(prefix="aw-many-"))
    store_url, dropped = make_store(args.store_url)
    store_url = store_url or f"sqlite:///{work / 'store.db'}"
    env = dict(os.environ)
    env |= {
        "ANOMWATCH_HOME": str(work / "home"),
        "ANOMWATCH_STORE_URL": store_url,
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PREFECT_API_URL", None)
    os.environ.update({k: env[k] for k in ("ANOMWATCH_HOME", "ANOMWATCH_STORE_URL")})
    now = _utcnow().replace(second=0, microsecond=0)
    end = now + timedelta(minutes=args.minutes + 15)
    path = write_setup(work, args.monitors, args.series, args.schedule, end)
    names = [f"m{i}" for i in range(args.monitors)]
    print(f"work folder {work}; store {store_url.split('@')[-1]}", file=sys.stderr)
    subprocess.run([sys.executable, "-c", CLI, "init"], env=env, check=True, cwd=work)
    began = time.monotonic()
    plain_ticks(path, names, now - timedelta(minutes=10))  # training (baseline)
    print(f"trained {len(names)} monitors in {time.monotonic() - began:.0f} s", file=sys.stderr)

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = (work / "prefect-server.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work,
    )  # fmt: skip
    serve: subprocess.Popen[bytes] | None = None
    try:
        wait_for_api(api, server)
        serve_log = (work / "serve.log").open("wb")
        serve = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "-m", str(path)],
            env=env | {"PREFECT_API_URL": api},
            stdout=serve_log,
            stderr=subprocess.STDOUT,
            cwd=work,
        )
        serve_ps, server_ps = psutil.Process(serve.pid), psutil.Process(server.pid)
        # measure from the first scheduled slot after serve has registered its deployments
        time.sleep(20)
        slots = CronSim(args.schedule, _utcnow())
        first = next(slots)
        while _utcnow() < first - timedelta(seconds=2):
            time.sleep(1)
        cpu0, server0 = cpu_seconds(serve_ps), cpu_seconds(server_ps)
        t0 = _utcnow() - timedelta(seconds=5)
        stop = first + timedelta(minutes=args.minutes)
        last_slot = first
        for slot in slots:
            if slot > stop:
                break
            last_slot = slot
        # wait for the runs of the last slot to finish (at most one period)
        expected = len(names) * (1 + sum(1 for _ in _between(args.schedule, first, last_slot)))
        deadline = time.monotonic() + (last_slot - _utcnow()).total_seconds() + 300
        while time.monotonic() < deadline:
            done = [r for r in served_runs(store_url, t0) if r["finished_at"] is not None]
            if len(done) >= expected:
                break
            time.sleep(5)
        cpu1, server1 = cpu_seconds(serve_ps), cpu_seconds(server_ps)
    finally:
        for proc in (serve, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    runs = served_runs(store_url, t0)
    finished = [r for r in runs if r["finished_at"] is not None]
    period = _period(args.schedule)
    over = [r for r in finished if r["finished_at"] - r["started_at"] > period]
    late = [r for r in finished if r["finished_at"] > _slot(r["started_at"], period) + period]
    newest = max(r["finished_at"] for r in finished) if finished else now
    own = plain_ticks(path, names, newest.replace(second=0, microsecond=0) + period)
    drop_store(dropped)

    n = max(len(finished), 1)
    per_run = (cpu1 - cpu0) / n
    own_per_run = own / len(names)
    print(
        f"\n{args.monitors} monitors x {args.series} series, schedule {args.schedule!r}, "
        f"{args.minutes:g} min served ({expected} runs scheduled), store "
        f"{'PostgreSQL' if dropped else store_url.split(':')[0]}, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    rows = [
        ("served runs finished", f"{len(finished)} of {expected}"),
        ("runs longer than their period", str(len(over))),
        ("runs finished after their period ended", str(len(late))),
        (
            "longest run (s)",
            f"{max((r['finished_at'] - r['started_at']).total_seconds() for r in finished):.1f}"
            if finished
            else "-",
        ),
        ("CPU s per served run (serve + flow-run processes)", f"{per_run:.2f}"),
        ("Prefect server CPU s per served run", f"{(server1 - server0) / n:.2f}"),
        ("tick's own CPU s per run (plain, in-process)", f"{own_per_run:.2f}"),
        (
            "share of a served run's CPU outside the tick",
            f"{max(0.0, 1 - own_per_run / per_run):.0%}" if per_run > 0 else "-",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key:{width}} | {value} |")


def _period(schedule: str) -> timedelta:
    from cronsim import CronSim

    runs = CronSim(schedule, datetime(2026, 1, 5))
    a, b = next(runs), next(runs)
    return b - a


def _utcnow() -> datetime:
    """Naive UTC, as the store and the monitors' UTC schedules keep time."""
    from anomwatch.durations import utcnow

    return utcnow()


def _slot(when: datetime, period: timedelta) -> datetime:
    """The scheduled slot a run started in (the period's boundary at or before it)."""
    epoch = datetime(1970, 1, 1)
    seconds = int((when - epoch).total_seconds())
    return epoch + timedelta(seconds=seconds - seconds % int(period.total_seconds()))


def _between(schedule: str, first: datetime, last: datetime) -> list[datetime]:
    from cronsim import CronSim

    out = []
    for slot in CronSim(schedule, first):
        if slot > last:
            break
        out.append(slot)
    return out


if __name__ == "__main__":
    main()
