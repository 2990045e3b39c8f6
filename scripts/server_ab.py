#!/usr/bin/env python3
"""Interleaved A/B rounds of server configurations: the figures behind the mode targets.

One matrix pass runs each configuration once, minutes apart, and this VM's neighbours move a
figure by 30% in that time. Here every round runs every configuration back to back (in a
rotated order), and the medians over the rounds are compared as ratios against BASE of the
same worker count: what `make bench`'s targets (THREAD >= 1.0x BASE, PROCESS over uds_batch or
shm_ring >= 0.85x BASE with CPU per request within 1.3x) are judged on.

  scripts/server_ab.py [--rounds 5] [--workers 1 2] [--seconds 2] [--out FILE.json]
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

import server_bench as sb

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [("base", "none"), ("thread", "thread"), ("process", "uds-batch"), ("process", "shm-ring"),
           ("process", "uds-dgram")]


def command(driver, mode, ipc, workers):
    cmd = [str(driver), "echo-server", "--mode", mode, "--workers", str(workers), "--framing", "length:N:0:4:2097152"]
    return cmd + (["--ipc", ipc] if ipc != "none" else [])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--build", default=str(ROOT / "build/release"))
    ap.add_argument("--out", help="write the rounds and medians as JSON here")
    args = ap.parse_args()
    loadgen = Path(args.build) / "bench/server_loadgen"
    driver = ROOT / "conformance/impls/reference/driver"
    runs = {(m, i, w): [] for w in args.workers for m, i in CONFIGS}
    keys = list(runs)
    for rnd in range(args.rounds):
        order = keys[rnd % len(keys):] + keys[:rnd % len(keys)]
        for mode, ipc, workers in order:
            proc, port = sb.start_server(command(driver, mode, ipc, workers))
            try:
                r = sb.run_load(loadgen, port, proc.pid, args.conns, args.size, args.seconds, "length")
            finally:
                sb.stop_server(proc)
            if "error" in r:
                print(f"round {rnd + 1}: {mode}/{ipc}/w{workers}: {r['error']}", file=sys.stderr)
                continue
            runs[(mode, ipc, workers)].append(r)
            print(f"round {rnd + 1}: {mode}/{ipc}/w{workers}: {r['req_s']:.0f} req/s, "
                  f"{r['server_cpu_us_per_req']:.1f} us CPU/req", file=sys.stderr, flush=True)
    table = []
    print(f"| workers | mode / ipc | req/s (median of {args.rounds}) | x BASE | CPU us/req | CPU x BASE |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for workers in args.workers:
        def med(key, field):
            values = [r[field] for r in runs[key]]
            return statistics.median(values) if values else float("nan")
        base_rps, base_cpu = med(("base", "none", workers), "req_s"), med(("base", "none", workers), "server_cpu_us_per_req")
        for mode, ipc in CONFIGS:
            key = (mode, ipc, workers)
            rps, cpu = med(key, "req_s"), med(key, "server_cpu_us_per_req")
            table.append({"workers": workers, "mode": mode, "ipc": ipc, "req_s": rps, "cpu_us_per_req": cpu,
                          "x_base": rps / base_rps, "cpu_x_base": cpu / base_cpu,
                          "rounds": [r["req_s"] for r in runs[key]]})
            print(f"| {workers} | {mode} / {ipc} | {rps:,.0f} | {rps / base_rps:.2f} | {cpu:.1f} | {cpu / base_cpu:.2f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"context": sb.context(Path(args.build)), "size": args.size,
                                              "conns": args.conns, "seconds": args.seconds, "medians": table},
                                             indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
