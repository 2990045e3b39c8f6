#!/usr/bin/env python3
"""Which SPEC.md behaviours are named by a test. A GoogleTest name carries the ID without hyphens
followed by '_' (FRM3_...), or a `// spec: FRM-3` comment names it; a Bats title starts with it
(@test "FRM-3: ...") or a `bats test_tags=spec:FRM-3` line tags it.
Usage: spec_coverage.py [--spec PATH] [--strict]   (--strict: exit 1 when an ID is not named)"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spec_ids(spec: Path):
    ids = []
    for line in spec.read_text().splitlines():
        m = re.match(r"^- ([A-Z]+(?:-[A-Z]+)?-\d+)\b", line)
        if m and m.group(1) not in ids:
            ids.append(m.group(1))
    return ids


def named_ids(tree: Path):
    text = []
    for path in tree.rglob("*"):
        if path.suffix in (".cc", ".h", ".bats", ".bash") and path.is_file():
            text.append(path.read_text(errors="replace"))
    blob = "\n".join(text)
    found = set()
    for m in re.finditer(r"spec:\s*([A-Z]+(?:-[A-Z]+)?-\d+(?:[ ,]+[A-Z]+(?:-[A-Z]+)?-\d+)*)", blob):
        found.update(re.findall(r"[A-Z]+(?:-[A-Z]+)?-\d+", m.group(1)))
    found.update(re.findall(r'@test "([A-Z]+(?:-[A-Z]+)?-\d+)', blob))
    return found, blob


def main():
    ap = argparse.ArgumentParser()
    # shared/ sits beside the clone; a git worktree may be nested one level deeper.
    candidates = [d / "shared/SPEC.md" for d in ROOT.parents]
    default = next((c for c in candidates if c.exists()), candidates[0])
    ap.add_argument("--spec", default=str(default))
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    spec = Path(args.spec)
    if not spec.exists():
        print(f"spec coverage: {spec} not found, skipped")
        return 0
    ids = spec_ids(spec)
    found, blob = named_ids(ROOT / "conformance")
    missing = []
    for i in ids:
        compact = i.replace("-", "")
        if i in found or re.search(rf"\b{compact}_", blob):
            continue
        missing.append(i)
    print(f"spec coverage: {len(ids) - len(missing)}/{len(ids)} IDs named by a test")
    if missing:
        print("  not yet named: " + " ".join(missing))
    return 1 if args.strict and missing else 0


if __name__ == "__main__":
    sys.exit(main())
