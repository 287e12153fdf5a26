"""The exporter (`anomwatch metrics`) and a real Prometheus as child processes of a test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "docs" / "prometheus" / "anomwatch-rules.yml"


def get(url: str, timeout: float = 5) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET; HTTP errors are answers, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll until check() returns something truthy (connection errors count as not yet)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, urllib.error.URLError) as exc:
            result, last = None, exc
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last})")


@contextmanager
def child(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """A process stopped (SIGTERM, then SIGKILL) when the block ends; output to `log`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def anomwatch_args(*args: str) -> list[str]:
    return [sys.executable, "-c", "from anomwatch.cli import main; main()", *args]


@contextmanager
def exporter(store_url: str, port: int, log: Path) -> Iterator[str]:
    """`anomwatch metrics --port PORT` on the store; yields its /metrics URL once it answers."""
    env = {**os.environ, "ANOMWATCH_STORE_URL": store_url, "PYTHONPATH": str(REPO)}
    url = f"http://127.0.0.1:{port}/metrics"
    with child(anomwatch_args("metrics", "--port", str(port)), log, env) as proc:
        wait_for(lambda: proc.poll() is not None or get(url)[0] == 200, f"{url} ({log})")
        assert proc.poll() is None, log.read_text()
        yield url


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


@contextmanager
def prometheus(target: str, port: int, workdir: Path) -> Iterator[str]:
    """Prometheus scraping `target` (host:port) every second with the shipped rules loaded;
    yields its base URL once it is ready. Its data lives in workdir."""
    binary = prometheus_binary()
    assert binary is not None
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "anomwatch", "static_configs": [{"targets": [target]}]}],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    args = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    base = f"http://127.0.0.1:{port}"
    with child(args, workdir / "prometheus.log") as proc:
        wait_for(
            lambda: proc.poll() is not None or get(f"{base}/-/ready")[0] == 200,
            "Prometheus to be ready",
        )
        assert proc.poll() is None, (workdir / "prometheus.log").read_text()
        yield base


def api(base: str, path: str, **params: str) -> Any:
    """The `data` of a Prometheus HTTP API answer (asserting status success)."""
    query = urllib.parse.urlencode(params)
    status, _, body = get(f"{base}{path}?{query}" if query else f"{base}{path}")
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", answer
    return answer["data"]


def instant(base: str, promql: str) -> list[tuple[dict[str, str], float]]:
    """An instant query's vector as (labels, value) pairs."""
    data = api(base, "/api/v1/query", query=promql)
    assert data["resultType"] == "vector", data
    return [(r["metric"], float(r["value"][1])) for r in data["result"]]
