#!/usr/bin/env python3
"""Server benchmark matrix: starts an implementation's `driver echo-server` (SPEC IUT) for each
mode x channel x workers, drives it with bench/server_loadgen, and writes results/latest/server.json:

  {"context": {...}, "runs": [{"impl", "mode", "ipc", "workers", "conns", "size", "req_s",
   "p50_us", "p99_us", "p999_us", "server_cpu_us_per_req", "requests", "errors", ...}]}

The floor (bench/floor_echo_server, a minimal epoll echo) runs in the same pass as impl "floor",
so every figure can be read as a ratio measured minutes apart at most, never across runs.
Only 127.0.0.1 is used; every server started here is stopped by its pid.
"""
import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROFILES = {
    # (modes/ipc come from `driver info`; these bound the rest of the matrix)
    "smoke": {"workers": [1], "sizes": [1024], "conns": [50], "duration": 1.0},
    "quick": {"workers": [2], "sizes": [1024], "conns": [1, 50], "duration": 2.0},
    "full": {"workers": [1, 2], "sizes": [64, 1024], "conns": [1, 50, 500], "duration": 5.0},
}


def start_server(cmd, timeout=10.0):
    """Starts a server that prints 'listening PORT' first; returns (process, port)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("listening "):
            return proc, int(line.split()[1])
        if proc.poll() is not None:
            break
    stop_server(proc)
    raise RuntimeError(f"{' '.join(cmd)}: no 'listening PORT' line (got {line!r})")


def stop_server(proc, grace=10.0):
    """SIGTERM, then SIGKILL to the server's own process group after the grace period."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def run_load(loadgen, port, pid, conns, size, duration, framing):
    cmd = [str(loadgen), "--port", str(port), "--conns", str(conns), "--size", str(size),
           "--duration", str(duration), "--warmup", "0.3", "--framing", framing,
           "--server-pid", str(pid)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
    if out.returncode != 0 or not out.stdout.strip():
        return {"error": (out.stderr or out.stdout).strip()[-300:] or f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def driver_info(driver):
    out = subprocess.run([str(driver), "info"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return info if info.get("available", True) else None


def context(build):
    def first_line(path):
        try:
            return Path(path).read_text().splitlines()[0]
        except OSError:
            return "unknown"
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "kernel": f"{platform.system()} {platform.release()}", "cpu_model": cpu,
            "online_cpus": os.cpu_count(), "msgmax": first_line("/proc/sys/kernel/msgmax"),
            "msgmnb": first_line("/proc/sys/kernel/msgmnb"), "commit": commit, "build": str(build)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", nargs="?", default="quick", choices=sorted(PROFILES))
    ap.add_argument("--impl", action="append", help="implementation(s); default: reference")
    ap.add_argument("--build", default=os.environ.get("PROCSPEC_BUILD_DIR", str(ROOT / "build/release")))
    ap.add_argument("--out", default=str(ROOT / "results/latest/server.json"))
    args = ap.parse_args()
    prof = PROFILES[args.profile]
    build = Path(args.build)
    loadgen = build / "bench/server_loadgen"
    floor = build / "bench/floor_echo_server"
    if not loadgen.exists():
        print(f"server_bench: {loadgen} is missing: build the release preset first", file=sys.stderr)
        return 1
    framing_spec = "length:N:0:4:2097152"

    configs = []
    for impl in args.impl or ["reference"]:
        driver = ROOT / "conformance/impls" / impl / "driver"
        info = driver_info(driver)
        if not info:
            print(f"server_bench: {impl}: driver unavailable, skipped", file=sys.stderr)
            continue
        for mode in info.get("modes", []):
            channels = [c for c in info.get("ipc", []) if c != "thread"] if mode == "process" else \
                       (["thread"] if mode == "thread" else ["none"])
            for ipc in channels or ["uds-dgram"]:
                for workers in prof["workers"]:
                    cmd = [str(driver), "echo-server", "--mode", mode, "--workers", str(workers),
                           "--framing", framing_spec]
                    if ipc != "none":
                        cmd += ["--ipc", ipc]
                    configs.append(({"impl": impl, "mode": mode, "ipc": ipc, "workers": workers}, cmd))
    if floor.exists():
        configs.insert(0, ({"impl": "floor", "mode": "epoll-echo", "ipc": "none", "workers": 1}, [str(floor)]))

    runs = []
    total = len(configs) * len(prof["sizes"]) * len(prof["conns"])
    done = 0
    for base, cmd in configs:
        for size in prof["sizes"]:
            for conns in prof["conns"]:
                done += 1
                label = f"{base['impl']}/{base['mode']}/{base['ipc']}/w{base['workers']}/{size}B/c{conns}"
                print(f"[{done}/{total}] {label}", file=sys.stderr, flush=True)
                row = dict(base, size=size, conns=conns)
                try:
                    proc, port = start_server(cmd)
                except RuntimeError as e:
                    row["error"] = str(e)
                    runs.append(row)
                    continue
                try:
                    row.update(run_load(loadgen, port, proc.pid, conns, size, prof["duration"], "length"))
                finally:
                    row["server_exit"] = stop_server(proc)
                runs.append(row)
                if "error" not in row:
                    print(f"    {row['req_s']:.0f} req/s  p50 {row['p50_us']:.0f} us  p99 {row['p99_us']:.0f} us"
                          f"  server CPU {row['server_cpu_us_per_req']} us/req", file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"context": context(build), "profile": args.profile, "runs": runs}, indent=1) + "\n")
    print(f"server_bench: {len(runs)} runs -> {out}", file=sys.stderr)
    return 0 if runs and all("error" not in r for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
