"""bench/nab_diagnose.py: per-file NAB points from a --dump, and regrouped events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
NAB = ROOT.parent / "shared" / "data" / "nab"
NAME = "artificialWithAnomaly/art_daily_jumpsup.csv"  # one window, rows 2787-3189

pytestmark = pytest.mark.skipif(not (NAB / "data" / NAME).exists(), reason="no NAB data")


def run(dump: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "nab_diagnose.py"), str(dump), *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_false_event_and_a_late_hit_are_priced_and_regrouped(tmp_path: Path) -> None:
    n = len(pd.read_csv(NAB / "data" / NAME))
    flags = np.zeros(n, bool)
    flags[[2700, 2720]] = True  # 20 rows (100 min) apart, before the window
    flags[3000] = True  # inside the window
    opened = flags.copy()  # as shipped with 1 h: three events
    dump = tmp_path / "run.npz"
    np.savez(
        dump,
        **{f"{NAME}|score": np.where(flags, 0.999, 0.1)},
        **{f"{NAME}|opened": opened},
        **{f"{NAME}|flags": flags},
    )
    out = run(dump, "--resolve-after", "1,2")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.endswith(NAME))
    raw, found, outside, cost = line.split()[:4]
    assert found == "1/1" and outside == "2" and float(cost) < 0 < float(raw)
    table = out.stdout.split("regrouped (thresholds held fixed):")[1].splitlines()
    one_h = next(x for x in table if x.strip().startswith("1h"))
    two_h = next(x for x in table if x.strip().startswith("2h"))
    assert one_h.split()[1] == "3" and two_h.split()[1] == "2"  # 2720 joins 2700 at 2 h
    assert float(two_h.split()[2]) > float(one_h.split()[2])  # one false event fewer


def test_a_dump_without_flags_cannot_be_regrouped(tmp_path: Path) -> None:
    n = len(pd.read_csv(NAB / "data" / NAME))
    dump = tmp_path / "old.npz"
    np.savez(dump, **{f"{NAME}|score": np.zeros(n)}, **{f"{NAME}|opened": np.zeros(n, bool)})
    assert run(dump).returncode == 0
    out = run(dump, "--resolve-after", "3")
    assert out.returncode != 0 and "has no flags" in out.stderr
