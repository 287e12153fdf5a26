"""The benchmarks' --retrain-window/--retrain-every: the product's RetrainPolicy with its
window or age replaced, a bad duration one error line and exit 2."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from anomwatch.config import RetrainPolicy, SeverityPolicy  # noqa: E402
from bench import nab_benchmark, seasonal_benchmark  # noqa: E402
from bench.shipped import retrain_policy  # noqa: E402


def test_unset_options_keep_the_product_default() -> None:
    assert retrain_policy() == RetrainPolicy()
    assert retrain_policy("", "") == RetrainPolicy()


def test_window_and_every_replace_only_their_field() -> None:
    policy = retrain_policy("28d")
    assert policy.window == timedelta(days=28)
    assert policy.every == RetrainPolicy().every
    assert policy.max_points == RetrainPolicy().max_points
    assert retrain_policy(None, "12h").every == timedelta(hours=12)


@pytest.mark.parametrize("window", ["28x", "0d"])
def test_a_bad_window_is_a_one_line_value_error(window: str) -> None:
    with pytest.raises(ValueError) as info:
        retrain_policy(window)
    assert len(str(info.value).splitlines()) == 1


def test_seasonal_streams_and_records_the_given_policy(tmp_path: Path) -> None:
    args = seasonal_benchmark.parse_args(
        ["--retrain-window", "28d", "--out", str(tmp_path / "s.jsonl")]
    )
    assert args.policy.window == timedelta(days=28)
    assert seasonal_benchmark.parse_args([]).policy == RetrainPolicy()
    line = json.loads(seasonal_benchmark.write_line(args, []).read_text())
    assert (
        line["retrain"]["window"]
        == RetrainPolicy(window=timedelta(days=28)).model_dump(mode="json")["window"]
    )


def test_seasonal_bad_window_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert seasonal_benchmark.main(["--retrain-window", "4 weeks", "--series", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --retrain-window")


def nab_error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one stderr line of `nab_benchmark.py --as-shipped ARGS`, which must exit 2."""
    with pytest.raises(SystemExit) as info:
        nab_benchmark.as_shipped(["--as-shipped", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_nab_as_shipped_bad_window_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert nab_error_line(capsys, "--retrain-window", "0d").startswith("error: --retrain-window")


def test_nab_passes_the_policy_to_the_stream(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """shipped_file hands its job's retrain and severity policies to the shipped stream."""
    import bench.shipped as shipped_module

    seen: list[object] = []
    real = shipped_module.stream_series

    def spy(*a: Any, **kw: Any) -> shipped_module.StreamResult:
        seen.append((kw.get("retrain"), kw.get("severity")))
        return real(*a, **kw)

    monkeypatch.setattr(shipped_module, "stream_series", spy)
    csv = tmp_path / "probe.csv"
    stamps = [f"2020-01-01 {h:02d}:{m:02d}:00" for h in range(24) for m in range(0, 60, 5)]
    csv.write_text("timestamp,value\n" + "".join(f"{t},{i % 7}\n" for i, t in enumerate(stamps)))
    policy, severity = retrain_policy("28d"), SeverityPolicy(critical_score=0.99)
    nab_benchmark.shipped_file((str(csv), {"components": ["iforest"]}, 12, policy, severity))
    assert seen == [(policy, severity)]


def test_nab_as_shipped_files_matching_nothing_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = nab_error_line(capsys, "--files", "no-such-file")
    assert line.startswith("error: --files 'no-such-file' matches no NAB file")
