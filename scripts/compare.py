#!/usr/bin/env python3
"""Compares two Google Benchmark JSON runs in Google Benchmark's compare.py table shape:

  Benchmark                         Time      CPU   Time Old   Time New    CPU Old    CPU New
  BM_UdsStream_OneWay_Raw/1024   +0.0512  +0.0300    4471 ns    4700 ns    2269 ns    2337 ns  *

A `*` marks a change beyond the measured spread: the two runs' repetition ranges (min..max, or
mean ± stddev when min/max were not recorded) do not overlap. Without `*` the difference is noise.
Usage: compare.py BASE CONTENDER [--significant-only], each a JSON file or a results directory
(e.g. results/history/2026-11-23-a21bb49 results/latest: every program in both). Standard library only.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchjson  # noqa: E402


def format_table(rows, significant_only=False):
    rows = [r for r in rows if r["significant"] or not significant_only]
    if not rows:
        return "(no benchmarks in common)\n"
    width = max(len("Benchmark"), *(len(r["name"]) for r in rows))
    out = [f"{'Benchmark':<{width}}  {'Time':>8}  {'CPU':>8}  {'Time Old':>10}  {'Time New':>10}"
           f"  {'CPU Old':>10}  {'CPU New':>10}"]
    out.append("-" * len(out[0]))
    change = lambda c: "     n/a" if c is None else f"{c:+8.4f}"
    for r in rows:
        out.append(f"{r['name']:<{width}}  {change(r['time_change'])}  {change(r['cpu_change'])}  "
                   f"{benchjson.fmt_ns(r['time_old']):>10}  {benchjson.fmt_ns(r['time_new']):>10}  "
                   f"{benchjson.fmt_ns(r['cpu_old']):>10}  {benchjson.fmt_ns(r['cpu_new']):>10}"
                   + ("  *" if r["significant"] else ""))
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("contender")
    ap.add_argument("--significant-only", action="store_true")
    args = ap.parse_args(argv)
    base, new = Path(args.base), Path(args.contender)
    if base.is_dir() and new.is_dir():
        old_runs, new_runs = benchjson.load_runs(base), benchjson.load_runs(new)
        for name in sorted(set(old_runs) & set(new_runs)):
            print(f"[{name}: {base} vs {new}]")
            sys.stdout.write(format_table(benchjson.compare(old_runs[name], new_runs[name]), args.significant_only))
        return 0
    rows = benchjson.compare(benchjson.Run(base), benchjson.Run(new))
    sys.stdout.write(format_table(rows, args.significant_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
