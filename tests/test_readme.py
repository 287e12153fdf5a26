"""Every test the README names exists: a renamed or deleted test must not leave a
guarantee, fault or bad-input row pointing at nothing."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
FILE = re.compile(r"^(?P<path>[\w/]*test_\w+\.py)(?:::(?P<name>test_\w+))?(?:\[.*\])?$")
CONTINUED = re.compile(r"^::(?P<name>test_\w+)(?:\[.*\])?$")  # same file as the last one
BARE = re.compile(r"^(?P<name>test_\w+)(?:\[.*\])?$")  # a test function anywhere in tests/


@cache
def functions(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))


def files_named(ref: str) -> list[Path]:
    """`tests/x/test_y.py` must be that file; a bare `test_y.py` any file of that name."""
    if ref.startswith("tests/"):
        return [ROOT / ref] if (ROOT / ref).is_file() else []
    return sorted(p for p in TESTS.rglob(Path(ref).name) if str(p).endswith(ref))


def missing_references(readme: str) -> list[str]:
    missing = []
    files: list[Path] = []  # the file a `::test_x` refers to: the last one named before it
    for number, line in enumerate(readme.splitlines(), 1):
        if not line.strip():
            files = []
        for token in re.findall(r"`([^`\s]+)`", line):
            where = f"README.md:{number}: `{token}`"
            if m := FILE.match(token):
                files = files_named(m["path"])
                if not files:
                    missing.append(f"{where}: no such test file")
                elif m["name"] and not any(m["name"] in functions(f) for f in files):
                    missing.append(f"{where}: no test {m['name']} in {m['path']}")
            elif m := CONTINUED.match(token):
                if not any(m["name"] in functions(f) for f in files):
                    missing.append(f"{where}: no test {m['name']} in the file named before it")
            elif (m := BARE.match(token)) and not any(
                m["name"] in functions(f) for f in TESTS.rglob("test_*.py")
            ):
                missing.append(f"{where}: no test {m['name']} anywhere in tests/")
    return missing


def test_every_test_named_in_the_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(re.findall(r"`[^`\s]*test_\w+", readme)) > 30  # the parser sees the references
    assert missing_references(readme) == []


def test_the_check_catches_a_renamed_test_and_a_wrong_file() -> None:
    assert missing_references("| x | `test_persist.py::test_no_such_thing` |") == [
        "README.md:1: `test_persist.py::test_no_such_thing`: no test test_no_such_thing in "
        "test_persist.py"
    ]
    assert missing_references("`tests/nowhere/test_gone.py`, `::test_x`") == [
        "README.md:1: `tests/nowhere/test_gone.py`: no such test file",
        "README.md:1: `::test_x`: no test test_x in the file named before it",
    ]
    assert (
        missing_references(
            "`test_monitor_flow.py::test_overlapping_run_is_skipped_with_a_clear_message`"
        )
        == []
    )
