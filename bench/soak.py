"""Soak: many ticks of one monitor with new data, injected anomalies and random faults,
then the four guarantees checked against a fault-free reference run.

    nice -n 5 .venv/bin/python bench/soak.py --ticks 120            # SQLite
    nice -n 5 .venv/bin/python bench/soak.py --ticks 80 --backend postgresql
    nice -n 5 .venv/bin/python bench/soak.py --ticks 60 --backend mariadb --seed 7

Every tick runs in its own forked process (as a scheduled run would), with the
plain task functions (no Prefect API), and may get one fault:

- sigkill:<step>  the tick SIGKILLs itself after extract, after scoring, inside the
                  persist transaction, after persist, before the send, after the send
- store_kill / store_kill_all    the store connection killed inside the persist
                  transaction once (the retry succeeds) / on every attempt (failed run)
- source_kill / source_kill_all  the same for the source connection before its read
- hook_500 / hook_down / hook_hang  the webhook answers 500 / refuses connections /
                  answers after the send timeout
- overlap         two processes start the same tick at once

Connections are killed for real: pg_terminate_backend on PostgreSQL, KILL CONNECTION
on MariaDB, the DBAPI connection closed underneath on SQLite.

Every webhook delivery is attributed to its outbox row by the reference line each
message ends with (`anomwatch message N (digest D, attempt A)`) and to the tick that
was running when it arrived. A row delivered more than once must be explained, send
by send, by the documented window (the target took it, anomwatch never learned so):
the earlier send's tick was SIGKILLed right after the send, or the webhook answered
after the send timeout, or the tick recorded a timeout for that row. Any other repeat
fails the run and is printed with its row, ticks, faults and attempts.

Prints a table and appends one JSON line to bench/results/soak.jsonl (`--results`
elsewhere, e.g. for a sweep over seeds). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "flows")]
RESULTS = ROOT / "bench" / "results" / "soak.jsonl"
STEP = timedelta(minutes=5)
T0 = datetime(2026, 11, 20)
HOSTS = ("a", "b", "c")
KILL_STEPS = (
    "after_extract",
    "after_score",
    "inside_persist",
    "after_persist",
    "before_send",
    "after_send",
)
FAULTS: dict[str, float] = {  # kind -> probability per tick (the rest: no fault)
    "sigkill": 0.16,
    "store_kill": 0.07,
    "store_kill_all": 0.05,
    "source_kill": 0.07,
    "source_kill_all": 0.04,
    "hook_500": 0.06,
    "hook_down": 0.05,
    "hook_hang": 0.03,
    "overlap": 0.03,
}
LOCK_SECONDS = 4.0
NOTIFY_TIMEOUT = 1.0

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")


# -- the webhook receiver the monitor notifies ------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One POST the webhook received, attributed to its outbox row by the message's
    reference line (`anomwatch message N (digest D, attempt A)`)."""

    tick: int  # the soak tick running when it arrived
    notification: int
    digest: int
    attempt: int
    answer: str  # ok (200 in time) | late (200 after the send timeout) | 500


REFERENCE = re.compile(r"anomwatch message (\d+) \(digest (\d+), attempt (\d+)\)")


def parse_delivery(body: bytes, tick: int, answer: str) -> Delivery:
    match = REFERENCE.search(json.loads(body)["message"])
    if match is None:
        raise SystemExit(f"a webhook message without its outbox reference: {body[:300]!r}")
    notification, digest, attempt = (int(g) for g in match.groups())
    return Delivery(tick, notification, digest, attempt, answer)


@dataclass
class Hook:
    """A json:// receiver on a fixed port that can answer 500, go down or hang."""

    mode: str = "up"  # up | 500 | down | hang
    tick: int = 0  # set by the soak before each tick
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.start()

    def received(self, answer: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.answer == answer]

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                tick, mode = hook.tick, hook.mode
                if mode == "hang":
                    time.sleep(NOTIFY_TIMEOUT * 2)
                answer = {"500": "500", "hang": "late"}.get(mode, "ok")
                with hook._lock:
                    hook.deliveries.append(parse_delivery(body, tick, answer))
                self.send_response(500 if mode == "500" else 200)
                try:
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (hang mode): its send timed out
                    return

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set(self, mode: str) -> None:
        if mode == "down" and self._server is not None:
            self.stop()
        elif mode != "down" and self._server is None:
            self.start()
        self.mode = mode


@dataclass
class Tick:
    """What the soak did in one tick: the fault and how its process(es) exited."""

    index: int
    fault: str
    exits: list[int] = field(default_factory=list)
    send_errors: dict[int, str] = field(default_factory=dict)  # message id -> recorded error


# send errors of a request the peer may have taken: apprise's own wait ran out, or the
# socket read timed out (a refused connection never reaches the receiver)
TIMED_OUT = ("did not finish within", "Connection error", "timed out")


def explain(earlier: Delivery, later: Delivery, ticks: list[Tick]) -> str | None:
    """Why the row of `earlier` was legitimately sent again, or None: the documented
    window is a target that took the message while anomwatch never learned it."""
    tick = ticks[earlier.tick]
    if earlier.answer == "late":
        return f"the webhook answered after the send timeout (tick {tick.index}: {tick.fault})"
    if tick.fault == "sigkill:after_send" and -signal.SIGKILL in tick.exits:
        return f"tick {tick.index} was SIGKILLed after the webhook took it, before marking it sent"
    error = tick.send_errors.get(earlier.notification, "")
    if any(e in error for e in TIMED_OUT) and later.attempt > earlier.attempt:
        return (
            f"tick {tick.index} stopped waiting for the answer ({error!r}) "
            "after the webhook had taken it"
        )
    return None


def duplicate_report(deliveries: list[Delivery], ticks: list[Tick]) -> tuple[list[str], list[str]]:
    """One line per delivery beyond the first of an outbox row: (explained, unexplained)."""
    explained: list[str] = []
    unexplained: list[str] = []
    by_row: dict[int, list[Delivery]] = {}
    for d in deliveries:
        if d.answer != "500":
            by_row.setdefault(d.notification, []).append(d)
    for row, sends in sorted(by_row.items()):
        for earlier, later in zip(sends, sends[1:], strict=False):
            reason = explain(earlier, later, ticks)
            where = (
                f"message {row} (digest {later.digest}): sent in tick {earlier.tick} "
                f"[{ticks[earlier.tick].fault}, exit {ticks[earlier.tick].exits}, "
                f"attempt {earlier.attempt}, {earlier.answer}] and again in tick {later.tick} "
                f"[{ticks[later.tick].fault}, attempt {later.attempt}]"
            )
            (explained if reason else unexplained).append(
                f"{where}: {reason or 'NO DOCUMENTED CASE EXPLAINS IT'}"
            )
    return explained, unexplained


# -- one tick, in a forked process --------------------------------------------------


def run_one_tick(env: dict[str, str], monitors_file: str, until: datetime, fault: str) -> None:
    """Body of the forked process: install the fault, run the tick, exit 0 or 1."""
    import logging

    logging.disable(logging.CRITICAL)
    os.environ.update(env)
    from fault_injection import ConnectionKiller
    from kill_tick import plain_pipeline

    import flows.monitor as fm
    from anomwatch.config import load_monitors
    from anomwatch.settings import Settings
    from anomwatch.store.db import Store

    settings = Settings()
    kills = {
        "store_kill": {"store_kills": 1},
        "store_kill_all": {"store_kills": None},
        "source_kill": {"source_kills": 1},
        "source_kill_all": {"source_kills": None},
    }.get(fault)
    if kills:
        monitor = load_monitors(Path(monitors_file)).get("soak")
        ConnectionKiller(
            store_url=settings.resolved_store_url,
            source_url=monitor.source.resolved_url("soak"),
            **kills,  # type: ignore[arg-type]
        ).install(setattr)
    plain_pipeline(fault.split(":", 1)[1] if fault.startswith("sigkill:") else None)
    store = Store(settings.resolved_store_url)
    try:
        fm.run_tick(settings, store, load_monitors(Path(monitors_file)).get("soak"), until)
    except Exception:  # noqa: BLE001 - recorded in runs; the exit code says it failed
        os._exit(1)
    os._exit(0)


def tick_in_child(env: dict[str, str], monitors_file: Path, until: datetime, fault: str) -> int:
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=run_one_tick, args=(env, str(monitors_file), until, fault))
    proc.start()
    proc.join(300)
    return int(proc.exitcode if proc.exitcode is not None else -999)


# -- setup and checks ---------------------------------------------------------------


def new_database(backend: str, workdir: Path, label: str, created: list[Any]) -> str:
    from conftest import DatabaseFactory

    factory = DatabaseFactory(backend, workdir)
    created.append(factory)
    return factory.new(label)


def write_monitors(path: Path, source_url: str, targets: list[str]) -> None:
    import yaml

    spec = {
        "monitors": [
            {
                "name": "soak",
                "source": {
                    "url": source_url,
                    "table": "metrics",
                    "timestamp": "ts",
                    "series": ["host", "metric"],
                    "values": ["value"],
                },
                "detector": {"components": ["iforest"], "contamination": 0.01, "seed": 1},
                "notify": {"targets": targets, "max_messages_per_hour": 10_000},
            }
        ]
    }
    path.write_text(yaml.safe_dump(spec))


def stored_keys(store: Any) -> Counter[tuple[str, datetime]]:
    from sqlalchemy import select

    from anomwatch.store.schema import anomalies

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(anomalies.c.series, anomalies.c.ts).where(anomalies.c.monitor == "soak")
        ).all()
    return Counter((r.series, r.ts) for r in rows)


def watermark_violations(
    store: Any, expected: set[tuple[str, datetime]], stored: Counter[tuple[str, datetime]]
) -> int:
    """Expected anomalies at or before their series' watermark that are not stored."""
    from anomwatch.store.anomalies import get_watermarks

    marks = get_watermarks(store, "soak")
    return sum(1 for s, ts in expected if s in marks and ts <= marks[s] and (s, ts) not in stored)


def interleaved_runs(store: Any) -> int:
    """Pairs of runs that did work at the same time (skipped and abandoned runs excluded:
    an abandoned run's end is only known when the next run notices it)."""
    from anomwatch.store.runs import list_runs

    runs = [
        r
        for r in list_runs(store, "soak", limit=100_000)
        if r["status"] in ("succeeded", "partial", "failed") and r["finished_at"]
    ]
    runs.sort(key=lambda r: r["started_at"])
    return sum(
        1 for a, b in zip(runs, runs[1:], strict=False) if b["started_at"] < a["finished_at"]
    )


def outbox_state(store: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from anomwatch.store.schema import anomalies, notifications

    with store.engine.connect() as conn:
        statuses = dict(
            conn.execute(
                select(notifications.c.status, func.count()).group_by(notifications.c.status)
            ).all()
        )
        unnotified = conn.execute(
            select(func.count())
            .select_from(anomalies)
            .where(
                anomalies.c.monitor == "soak",
                anomalies.c.suppressed.is_(None),
                anomalies.c.notified_at.is_(None),
            )
        ).scalar_one()
        suppressed = conn.execute(
            select(func.count())
            .select_from(anomalies)
            .where(anomalies.c.monitor == "soak", anomalies.c.suppressed.is_not(None))
        ).scalar_one()
    return {
        "sent": int(statuses.get("sent", 0)),
        "pending": int(statuses.get("pending", 0)),
        "dead": int(statuses.get("dead", 0)),
        "unnotified": int(unnotified),
        "suppressed": int(suppressed),
    }


SEND_FAULTS = ("sigkill:before_send", "sigkill:after_send", "hook_500", "hook_down", "hook_hang")


MESSAGE_KEY = re.compile(r"\(message (\d+)\)$")


def send_errors(store: Any, run_ids: set[int]) -> dict[int, str]:
    """The send errors the tick's runs recorded, per outbox row (runs.details)."""
    from anomwatch.store.runs import list_runs

    errors: dict[int, str] = {}
    for run in list_runs(store, "soak", limit=10):
        if run["id"] in run_ids and run["details"]:
            for key, error in json.loads(run["details"]).get("notify_failed", {}).items():
                match = MESSAGE_KEY.search(key)
                if match:
                    errors[int(match.group(1))] = error
    return errors


def run_ids(store: Any) -> set[int]:
    from sqlalchemy import select

    from anomwatch.store.schema import runs

    with store.engine.connect() as conn:
        return {int(i) for i in conn.execute(select(runs.c.id)).scalars()}


def sent_rows(store: Any) -> list[int]:
    from sqlalchemy import select

    from anomwatch.store.schema import notifications

    with store.engine.connect() as conn:
        return [
            int(i)
            for i in conn.execute(
                select(notifications.c.id).where(notifications.c.status == "sent")
            ).scalars()
        ]


def pending_sends(store: Any) -> int:
    from sqlalchemy import func, select

    from anomwatch.store.schema import notifications

    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(notifications)
                .where(notifications.c.status == "pending")
            ).scalar_one()
        )


def pick_fault(rng: random.Random, digest_likely: bool) -> str:
    """A random fault; when a digest is likely due, a send fault more often than not
    (they only bite when something is sent)."""
    if digest_likely and rng.random() < 0.5:
        return rng.choice(SEND_FAULTS)
    roll = rng.random()
    for kind, p in FAULTS.items():
        if roll < p:
            return f"sigkill:{rng.choice(KILL_STEPS)}" if kind == "sigkill" else kind
        roll -= p
    return "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=120)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "mariadb"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--incidents", type=int, default=0, help="default: one per 5 ticks")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"JSON lines appended here ({RESULTS})"
    )
    args = parser.parse_args()

    # imported once here, so that each forked tick starts at once
    import fault_injection  # noqa: F401

    import flows.monitor  # noqa: F401
    import tasks.batch  # noqa: F401
    import tasks.notify  # noqa: F401
    import tasks.report  # noqa: F401
    from anomwatch.demo import Incident, simulate, write_rows
    from anomwatch.store.db import Store

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="aw_soak_"))
    created: list[Any] = []
    started = time.monotonic()
    end = T0 + STEP * args.ticks
    incidents = tuple(
        Incident(rng.choice(HOSTS), "cpu", "spike", T0 + STEP * rng.randrange(2, args.ticks), 1)
        for _ in range(args.incidents or max(1, args.ticks // 5))
    )
    rows = simulate(
        T0 - timedelta(days=2),
        end + STEP,
        incidents,
        hosts=HOSTS,
        metrics={"cpu": (40.0, 15.0, 2.0)},
        seed=args.seed,
    )
    history = rows[rows.ts <= T0]
    untils = [T0 + STEP * i for i in range(args.ticks + 1)]

    # 1. the reference: the same ticks, in this process, without faults
    ref_source = new_database(args.backend, work, "refsrc", created)
    ref_store_url = new_database(args.backend, work, "refstore", created)
    write_rows(ref_source, rows)
    ref_store = Store(ref_store_url)
    ref_store.migrate()
    write_monitors(work / "ref.yaml", ref_source, [])
    ref_env = {
        "ANOMWATCH_HOME": str(work / "refhome"),
        "ANOMWATCH_STORE_URL": ref_store_url,
    }
    for until in untils:
        assert tick_in_child(ref_env, work / "ref.yaml", until, "none") == 0
    expected = set(stored_keys(ref_store))

    # 2. the soak: data arrives tick by tick, faults at random
    hook = Hook()
    source = new_database(args.backend, work, "src", created)
    store_url = new_database(args.backend, work, "store", created)
    write_rows(source, history)
    store = Store(store_url)
    store.migrate()
    write_monitors(work / "soak.yaml", source, [f"json://127.0.0.1:{hook.port}/soak"])
    env = {
        "ANOMWATCH_HOME": str(work / "home"),
        "ANOMWATCH_STORE_URL": store_url,
        "ANOMWATCH_NOTIFY_RETRY_BASE_SECONDS": "0",
        "ANOMWATCH_NOTIFY_TIMEOUT_SECONDS": str(NOTIFY_TIMEOUT),
        "ANOMWATCH_LOCK_TIMEOUT_SECONDS": str(LOCK_SECONDS),
        "ANOMWATCH_DB_ATTEMPTS": "3",
        "ANOMWATCH_DB_RETRY_BASE_SECONDS": "0.05",
    }
    faults: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    max_mark_violations = 0
    spurious = 0
    ticks: list[Tick] = []
    seen_runs: set[int] = set()
    for i, until in enumerate(untils):
        if i:
            write_rows(source, rows[(rows.ts > until - STEP) & (rows.ts <= until)])
        spike_now = any(until - STEP < inc.start <= until for inc in incidents)
        fault = "none" if i == 0 else pick_fault(rng, spike_now or pending_sends(store) > 0)
        faults[fault.split(":")[0] if fault.startswith("sigkill") else fault] += 1
        if fault.startswith("sigkill"):
            faults[fault] += 1
        hook.set({"hook_500": "500", "hook_down": "down", "hook_hang": "hang"}.get(fault, "up"))
        hook.tick = i
        tick = Tick(i, fault)
        ticks.append(tick)
        if fault == "overlap":
            ctx = mp.get_context("fork")
            procs = [
                ctx.Process(target=run_one_tick, args=(env, str(work / "soak.yaml"), until, "none"))
                for _ in range(2)
            ]
            for p in procs:
                p.start()
            for p in procs:
                p.join(300)
                exits[str(p.exitcode)] += 1
                tick.exits.append(int(p.exitcode if p.exitcode is not None else -999))
        else:
            code = tick_in_child(env, work / "soak.yaml", until, fault)
            exits[str(code)] += 1
            tick.exits.append(code)
            if code == -signal.SIGKILL:
                time.sleep(LOCK_SECONDS + 0.1)  # the killed run's lock expires
        new_runs = run_ids(store) - seen_runs
        seen_runs |= new_runs
        tick.send_errors = send_errors(store, new_runs)
        stored = stored_keys(store)
        max_mark_violations = max(
            max_mark_violations, watermark_violations(store, expected, stored)
        )
        spurious = max(spurious, len(set(stored) - expected))

    # 3. recovery: channel up, no faults, until everything due is sent
    hook.set("up")
    for _ in range(2):
        hook.tick = len(ticks)
        ticks.append(Tick(len(ticks), "recovery"))
        ticks[-1].exits.append(tick_in_child(env, work / "soak.yaml", untils[-1], "none"))
        new_runs = run_ids(store) - seen_runs
        seen_runs |= new_runs
        ticks[-1].send_errors = send_errors(store, new_runs)
    time.sleep(NOTIFY_TIMEOUT * 2.5)  # let 'hang' requests finish
    stored = stored_keys(store)
    outbox = outbox_state(store)
    duplicates = sum(n - 1 for n in stored.values() if n > 1)
    missing = len(expected - set(stored))
    extra = len(set(stored) - expected)
    explained, unexplained = duplicate_report(hook.deliveries, ticks)
    delivered_rows = {d.notification for d in hook.deliveries if d.answer != "500"}
    never_delivered = sorted(set(sent_rows(store)) - delivered_rows)
    interleaved = interleaved_runs(store)
    checks = {
        "1 stored exactly once": missing == 0 and extra == 0 and duplicates == 0 and not spurious,
        # each resend of a row explained by the documented window: the target took the
        # message but anomwatch never learned it (SIGKILL right after the send, or an
        # answer after the send timeout)
        "2 notified at most once": not unexplained,
        "2 notified at least once": outbox["pending"] == 0
        and outbox["dead"] == 0
        and outbox["unnotified"] == 0
        and not never_delivered,
        "3 watermark never past unstored rows": max_mark_violations == 0,
        "4 no interleaving": interleaved == 0,
    }
    from anomwatch.store.runs import list_runs

    statuses = Counter(r["status"] for r in list_runs(store, "soak", limit=100_000))
    seconds = time.monotonic() - started
    print_table(args, faults, expected, stored, outbox, hook, explained, unexplained)
    print(f"| SIGKILLs that fired (send steps fire only when a digest is due) | {exits['-9']} |")
    print(
        f"\nruns: {dict(sorted(statuses.items()))}   process exits: {dict(sorted(exits.items()))}"
    )
    print(
        f"max expected-but-unstored rows behind a watermark after any tick: {max_mark_violations}"
    )
    print(f"interleaved run pairs: {interleaved}   elapsed: {seconds:.0f} s\n")
    for line in explained:
        print(f"  resent, explained: {line}")
    for line in unexplained:
        print(f"  resent, UNEXPLAINED: {line}")
    if never_delivered:
        print(f"  outbox rows marked sent that the webhook never received: {never_delivered}")
    print()
    width = max(map(len, checks))
    for name, ok in checks.items():
        print(f"  {name:<{width}}  {'PASS' if ok else 'FAIL'}")
    record = {
        "bench": "soak",
        "when": datetime.now().isoformat(timespec="seconds"),
        "backend": args.backend,
        "seed": args.seed,
        "ticks": args.ticks,
        "incidents": len(incidents),
        "faults": dict(faults),
        "expected": len(expected),
        "stored": len(stored),
        "missing": missing,
        "extra": extra,
        "duplicates": duplicates,
        "outbox": outbox,
        "webhook_ok": len(hook.received("ok")),
        "webhook_late": len(hook.received("late")),
        "webhook_500": len(hook.received("500")),
        "resent": len(explained) + len(unexplained),
        "resent_explained": explained,
        "resent_unexplained": unexplained,
        "sent_never_delivered": never_delivered,
        "sigkills_fired": exits["-9"],
        "runs": dict(statuses),
        "max_watermark_violations": max_mark_violations,
        "interleaved": interleaved,
        "checks": checks,
        "seconds": round(seconds, 1),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    hook.stop()
    ref_store.dispose()
    store.dispose()
    for factory in created:
        factory.drop_all()
    sys.exit(0 if all(checks.values()) else 1)


def print_table(
    args: argparse.Namespace,
    faults: Counter[str],
    expected: set[Any],
    stored: Counter[Any],
    outbox: dict[str, int],
    hook: Hook,
    explained: list[str],
    unexplained: list[str],
) -> None:
    print(f"soak: {args.ticks + 1} ticks on {args.backend}, seed {args.seed}\n")
    print("| fault | ticks |\n|---|---|")
    for kind, n in sorted(faults.items()):
        print(f"| {kind} | {n} |")
    print("\n| anomalies | count |\n|---|---|")
    rows = [
        ("expected (fault-free reference run)", len(expected)),
        ("stored", len(stored)),
        ("stored more than once", sum(1 for n in stored.values() if n > 1)),
        ("missing / unexpected", f"{len(expected - set(stored))} / {len(set(stored) - expected)}"),
        ("suppressed (repeats, not sent)", outbox["suppressed"]),
        ("digests sent (outbox rows 'sent')", outbox["sent"]),
        ("webhook deliveries answered in time", len(hook.received("ok"))),
        ("webhook deliveries after the send timeout", len(hook.received("late"))),
        ("webhook 500 answers", len(hook.received("500"))),
        ("deliveries beyond one per outbox row", len(explained) + len(unexplained)),
        ("... explained (killed after the send, late answer)", len(explained)),
        ("... unexplained", len(unexplained)),
        (
            "left pending / dead / unnotified",
            f"{outbox['pending']} / {outbox['dead']} / {outbox['unnotified']}",
        ),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
