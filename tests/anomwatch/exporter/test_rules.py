"""The shipped alerting rules behave as documented: promtool's unit tests
(anomwatch-rules.test.yml, next to this file) feed each alert the series that should
raise it and check it fires after its `for:`, with its summary, and not before."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULE_TESTS = Path(__file__).with_name("anomwatch-rules.test.yml")


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian package `prometheus`)",
)
def test_each_alert_fires_on_its_series_after_its_for() -> None:
    out = subprocess.run(
        ["promtool", "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
