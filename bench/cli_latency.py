"""How long the commands a person types take: `validate`, and one `run` tick.

    nice -n 5 .venv/bin/python bench/cli_latency.py [--repeat 3] [--skip-flow]

Each command runs as a fresh process, as from a shell. Prints a table of the median
wall time and the median CPU time (user + system of the process; on a busy machine
wall time waits for a CPU, CPU time does not). The `run` rows compare the same tick
of a small monitor (2 series, 5-minute rows) run the way `anomwatch run` does it
without PREFECT_API_URL (the plain task functions) and as a Prefect flow on the
temporary server Prefect starts when no API is configured (how `run` worked before).
Writes nothing but a temporary folder. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 1)
FLOW_CALL = (
    "import sys; from datetime import datetime; from flows.monitor import monitor_tick; "
    "monitor_tick('hosts', monitors_file=sys.argv[1], until=datetime.fromisoformat(sys.argv[2]))"
)


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of one child process; a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def setup(folder: Path) -> tuple[Path, dict[str, str]]:
    """A store, a source with two days of rows, and a monitors.yaml over it."""
    from anomwatch.demo import simulate, write_rows
    from anomwatch.store.db import Store

    source = f"sqlite:///{folder / 'source.db'}"
    write_rows(
        source,
        simulate(T0, T0 + timedelta(days=4), hosts=("a", "b"), metrics={"cpu": (40.0, 10.0, 2.0)}),
    )
    monitors = folder / "monitors.yaml"
    monitors.write_text(
        yaml.safe_dump(
            {
                "monitors": [
                    {
                        "name": "hosts",
                        "source": {
                            "url": source,
                            "table": "metrics",
                            "timestamp": "ts",
                            "series": ["host", "metric"],
                            "values": ["value"],
                        },
                        "detector": {"components": ["iforest"]},
                    }
                ]
            }
        )
    )
    env = dict(
        os.environ,
        ANOMWATCH_HOME=str(folder / "home"),
        PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    )
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # a busy machine can take longer than Prefect's default 20 s to start that server
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"
    Store(f"sqlite:///{folder / 'home' / 'store.db'}").migrate()
    return monitors, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-flow", action="store_true", help="skip the slow flow rows")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("anomwatch"))
    rows: list[tuple[str, list[tuple[float, float]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        monitors, env = setup(Path(tmp))
        rows.append(("anomwatch --help", [timed([exe, "--help"], env) for _ in range(args.repeat)]))
        rows.append(
            (
                "anomwatch monitors validate (repo monitors.yaml)",
                [timed([exe, "monitors", "validate"], env) for _ in range(args.repeat)],
            )
        )
        rows.append(
            (
                "anomwatch monitors check (1 SQLite monitor)",
                [
                    timed([exe, "monitors", "check", "-m", str(monitors)], env)
                    for _ in range(args.repeat)
                ],
            )
        )
        # The first tick trains; each later one scores the next hour of rows.
        hour = [T0 + timedelta(days=3, hours=h) for h in range(1 + 2 * args.repeat)]
        timed([exe, "run", "hosts", "-m", str(monitors), "--until", hour[0].isoformat()], env)
        rows.append(
            (
                "anomwatch run: one tick, plain functions (now)",
                [
                    timed([exe, "run", "hosts", "-m", str(monitors), "--until", t.isoformat()], env)
                    for t in hour[1 : 1 + args.repeat]
                ],
            )
        )
        if not args.skip_flow:
            rows.append(
                (
                    "the same tick as a flow on Prefect's temporary server (before)",
                    [
                        timed([sys.executable, "-c", FLOW_CALL, str(monitors), t.isoformat()], env)
                        for t in hour[1 + args.repeat :]
                    ],
                )
            )
    width = max(len(name) for name, _ in rows)
    print(f"{'command':{width}}  {'wall s (median)':>15}  {'CPU s (median)':>14}  runs")
    for name, samples in rows:
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        print(f"{name:{width}}  {wall:15.2f}  {cpu:14.2f}  {len(samples)}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
