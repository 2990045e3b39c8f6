#!/usr/bin/env python3
"""Sums JUnit XML reports (ctest's and Bats') into the one closing line
`N passed, N failed, N skipped` and exits 1 on any failure or when nothing ran."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(path: Path):
    passed = failed = skipped = 0
    failures = []
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')} {case.get('name', '')}".strip()
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failures.append(name)
        elif case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, failures


def main(argv):
    if len(argv) < 2:
        print("usage: junit_summary.py REPORT.xml...", file=sys.stderr)
        return 2
    totals = [0, 0, 0]
    all_failures = []
    for arg in argv[1:]:
        path = Path(arg)
        if not path.exists():
            print(f"junit_summary: {path} is missing (that runner did not report)", file=sys.stderr)
            totals[1] += 1
            all_failures.append(f"{path} missing")
            continue
        p, f, s, names = count(path)
        print(f"  {path.name}: {p} passed, {f} failed, {s} skipped")
        totals = [totals[0] + p, totals[1] + f, totals[2] + s]
        all_failures += names
    for name in all_failures:
        print(f"  FAILED: {name}")
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if totals[1] or totals[0] == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
