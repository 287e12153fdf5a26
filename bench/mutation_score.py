"""Mutation score per module from the last `mutmut run` (`make mutation`), as a table.

score = killed / (killed + survived + no tests + timeout); mutants that were skipped
or not yet checked are counted apart. Run from the repository root.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

LINE = re.compile(r"^\s+(?P<name>[\w.]+?)\.x[_ǁ]\S*__mutmut_\d+: (?P<status>.+)$")


def main() -> None:
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            counts[m["name"]][m["status"].strip()] += 1
    print(
        f"{'module':32} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} "
        f"{'timeout':>7} {'other':>5} {'score':>6}"
    )
    for module in sorted(counts):
        c = counts[module]
        judged = c["killed"] + c["survived"] + c["no tests"] + c["timeout"]
        other = sum(c.values()) - judged
        score = f"{c['killed'] / judged:.0%}" if judged else "-"
        print(
            f"{module:32} {sum(c.values()):>7} {c['killed']:>6} {c['survived']:>8} "
            f"{c['no tests']:>8} {c['timeout']:>7} {other:>5} {score:>6}"
        )


if __name__ == "__main__":
    main()
