#!/usr/bin/env python3
"""Merges JUnit XML reports (Bats runs made side by side) into one <testsuites> on stdout:
every <testsuite> of every input, in order; the root's time is the longest input's (the runs
overlapped). An input that is missing or unreadable becomes a failed test case naming it, so a
runner that died is never silently left out of the summary. Stdlib only.
Usage: junit_merge.py REPORT.xml... > MERGED.xml"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(argv):
    if len(argv) < 2:
        print(__doc__.splitlines()[-1], file=sys.stderr)
        return 2
    merged = ET.Element("testsuites")
    longest = 0.0
    for arg in argv[1:]:
        path = Path(arg)
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as e:
            suite = ET.SubElement(merged, "testsuite", name=path.name, tests="1", failures="1", errors="0",
                                  skipped="0", time="0")
            case = ET.SubElement(suite, "testcase", classname=path.name, name=f"{path} (report)", time="0")
            ET.SubElement(case, "failure", type="failure").text = f"no complete report: {e}"
            print(f"junit_merge: {path}: {e}", file=sys.stderr)
            continue
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        merged.extend(suites)
        try:
            longest = max(longest, float(root.get("time", "0")))
        except ValueError:
            pass
    merged.set("time", f"{longest:.3f}")
    sys.stdout.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    sys.stdout.write(ET.tostring(merged, encoding="unicode") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
