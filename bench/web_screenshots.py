"""Screenshots of the web view's three main pages, for the README (docs/screenshots/).

    .venv/bin/python bench/web_screenshots.py

Runs `anomwatch demo` in a temporary directory (simulated metrics, real ticks, three
injected incidents), serves it with `anomwatch web --no-auth` on 127.0.0.1, and has
headless Chromium (Debian's chromium + chromium-driver) save the monitors page, the
monitor's events and anomalies, and the first open event with its plot. Writes to
/tmp/anomwatch-screenshots unless --record (then docs/screenshots/).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "anomwatch" / "web"))

from browser import chromium, image_loaded, missing_browser, web_server  # noqa: E402


def full_page(driver: object, path: Path, width: int = 1280) -> None:
    """The whole page, not just the window: resize to the document's height first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    driver.set_window_size(width, min(int(height) + 160, 2400))  # type: ignore[attr-defined]
    time.sleep(0.3)
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", action="store_true", help="write to docs/screenshots/")
    args = parser.parse_args()
    reason = missing_browser()
    if reason:
        raise SystemExit(f"error: {reason}")
    out = ROOT / "docs" / "screenshots" if args.record else Path("/tmp/anomwatch-screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aw-shots-") as tmp:
        env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
        demo = [sys.executable, "-c", "from anomwatch.cli import main; main()", "demo"]
        subprocess.run(demo, cwd=tmp, env=env, check=True, capture_output=True)
        serve_env = {"ANOMWATCH_MONITORS_FILE": str(Path(tmp) / ".anomwatch/demo/monitors.yaml")}
        with web_server(serve_env, ("--no-auth",), cwd=Path(tmp)) as url, chromium() as driver:
            from selenium.webdriver.common.by import By

            driver.get(f"{url}/")
            full_page(driver, out / "monitors.png")
            driver.set_window_size(1280, 900)
            driver.get(f"{url}/monitors/demo-hosts")
            full_page(driver, out / "monitor.png")
            driver.set_window_size(1280, 900)
            driver.find_element(By.CSS_SELECTOR, "#events a").click()
            plot = driver.find_element(By.ID, "plot")
            deadline = time.monotonic() + 60
            while not image_loaded(driver, plot) and time.monotonic() < deadline:
                time.sleep(0.2)
            full_page(driver, out / "event.png")
    for name in ("monitors", "monitor", "event"):
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
