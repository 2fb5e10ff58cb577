"""Print the mutation score of the last `mutmut run` (make mutation), per module and overall.

Killed = the tests failed (or timed out) on the mutant. Survivors are listed in docs/mutation-survivors.md
with the reason they cannot change behaviour, or the gap they show; this prints the survivors the file
does not list yet. Exit status 0 always: the score is a measure, not a gate (make mutation is not CI).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LISTED = REPO / "docs" / "mutation-survivors.md"
KILLED = {"killed", "timeout"}


def main() -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    output = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=REPO, capture_output=True, text=True).stdout
    statuses: dict[str, str] = {}
    for line in output.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            statuses[name] = status
    if not statuses:
        print("no mutmut results: run `make mutation` first", file=sys.stderr)
        return 1
    per_module: dict[str, Counter] = defaultdict(Counter)
    for name, status in statuses.items():
        module = re.split(r"\.x_|\.xǁ", name, maxsplit=1)[0]
        per_module[module]["total"] += 1
        per_module[module]["killed"] += status in KILLED
    print(f"{'module':40} {'killed':>7} {'total':>7} {'score':>7}")
    for module in sorted(per_module):
        counts = per_module[module]
        print(f"{module:40} {counts['killed']:7} {counts['total']:7} {counts['killed'] / counts['total']:7.1%}")
    killed = sum(c["killed"] for c in per_module.values())
    total = sum(c["total"] for c in per_module.values())
    others = Counter(status for status in statuses.values() if status not in KILLED)
    print(f"{'all':40} {killed:7} {total:7} {killed / total:7.1%}   (not killed: "
          + ", ".join(f"{count} {status}" for status, count in sorted(others.items())) + ")")
    listed = set(re.findall(r"`([\w.ǁ]+__mutmut_\d+)`", LISTED.read_text("utf-8"))) if LISTED.exists() else set()
    unlisted = sorted(name for name, status in statuses.items() if status not in KILLED and name not in listed)
    if unlisted:
        print(f"\n{len(unlisted)} survivor(s) not in {LISTED.relative_to(REPO)} (kill them with a test, or list them "
              "with the reason they cannot change behaviour); `mutmut show NAME` shows one:")
        for name in unlisted[:40]:
            print(f"  {name}: {statuses[name]}")
        if len(unlisted) > 40:
            print(f"  … {len(unlisted) - 40} more")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
