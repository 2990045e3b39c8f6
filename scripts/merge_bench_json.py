#!/usr/bin/env python3
"""Merges the Google Benchmark JSON files of one program run in chunks (scripts/run_bench.sh
runs a program a few benchmarks at a time, so progress shows) into one file on stdout.
The context is the first chunk's; each chunk ran its own placement check, and the merged
context records their median as placement_ring_rtt_ns and every sample in
placement_samples_ns. Usage: merge_bench_json.py PART.json... > OUT.json"""
import json
import statistics
import sys


def merge(parts):
    context, benchmarks, samples = None, [], []
    for part in parts:
        if context is None:
            context = dict(part.get("context", {}))
        benchmarks += part.get("benchmarks", [])
        rtt = part.get("context", {}).get("placement_ring_rtt_ns")
        if rtt is not None:
            samples.append(int(float(rtt)))
    context = context or {}
    if samples:
        context["placement_ring_rtt_ns"] = str(int(statistics.median(samples)))
        context["placement_samples_ns"] = ",".join(str(s) for s in samples)
    return {"context": context, "benchmarks": benchmarks}


def main(paths):
    parts = []
    for p in paths:
        with open(p) as f:
            parts.append(json.load(f))
    json.dump(merge(parts), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
