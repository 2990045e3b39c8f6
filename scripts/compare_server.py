#!/usr/bin/env python3
"""The server half of `make compare` for one implementation: starts its `driver echo-server`
(SPEC IUT) in each mode it lists, checks that packets come back unchanged and that SIGTERM ends it
with status 0, and, when the load generator is built, measures it under load together with the
server tree's CPU time per request. Writes the results as JSON for scripts/matrix.py. Stdlib only."""
import argparse
import json
import os
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

FRAMINGS = ["none", "length:N:0:4:65536"]
WORKERS = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The load generator's command line; {port} and {framing} are filled in. Override with
# PROCSPEC_LOADGEN_ARGS when bench/server_loadgen's options differ.
LOADGEN_ARGS = "--host 127.0.0.1 --port {port} --framing {framing} --connections 50 --size 64 --duration 2 --json"


def tree_pids(root):
    """root and all its descendants, from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += children.get(pid, [])
    return pids


def tree_cpu_us(root):
    """utime + stime of the live server tree, in microseconds."""
    total = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total * 1_000_000 // CLK_TCK


def start(driver, mode, framing, ipc, log):
    """(process, port) or (process, message) when it did not start listening within 10 s."""
    proc = subprocess.Popen([driver, "echo-server", "--mode", mode, "--workers", str(WORKERS),
                             "--framing", framing, "--ipc", ipc],
                            stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
    if line.startswith("listening "):
        return proc, int(line.split()[1])
    try:
        proc.wait(timeout=0.5)
    except subprocess.TimeoutExpired:
        pass
    return proc, f"first line was {line!r}" if line else "no 'listening PORT' line within 10 s"


def echo_ok(port, framing):
    """Sends packets on two connections at once and checks each comes back unchanged."""
    if framing == "none":
        payloads = [b"ping-0\n", b"ping-1\n"]
    else:
        payloads = [struct.pack(">I", 5) + b"hello" + struct.pack(">I", 3) + b"abc",
                    struct.pack(">I", 1) + b"x"]
    conns = [socket.create_connection(("127.0.0.1", port), timeout=3) for _ in payloads]
    try:
        for conn, payload in zip(conns, payloads):
            conn.sendall(payload)
        for conn, payload in zip(conns, payloads):
            got = b""
            while len(got) < len(payload):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
            if got != payload:
                return f"sent {payload!r}, got back {got!r}"
    finally:
        for conn in conns:
            conn.close()
    return None


def stop(proc):
    """SIGTERM, then the exit status (None if it had to be killed after 10 s)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        for pid in reversed(tree_pids(proc.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        return None


def run_load(loadgen, port, framing, server_pid):
    """The load generator's numeric results plus server CPU µs per request, or (None, why)."""
    args = os.environ.get("PROCSPEC_LOADGEN_ARGS", LOADGEN_ARGS).format(port=port, framing=framing)
    before = tree_cpu_us(server_pid)
    try:
        done = subprocess.run([loadgen, *shlex.split(args)], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "server_loadgen did not finish within 120 s"
    cpu = tree_cpu_us(server_pid) - before
    lines = [l for l in done.stdout.decode(errors="replace").splitlines() if l.startswith("{")]
    if done.returncode != 0 or not lines:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return None, f"server_loadgen exited {done.returncode}: {err[0] if err else 'no JSON output'}"
    figures = {k: v for k, v in json.loads(lines[-1]).items() if isinstance(v, (int, float))}
    requests = figures.get("requests")
    if requests:
        figures["server_cpu_us_per_request"] = cpu / requests
    return figures, None


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", required=True)
    parser.add_argument("--info", type=Path, required=True, help="the driver's `info` JSON")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--loadgen", type=Path)
    args = parser.parse_args(argv[1:])
    info = json.loads(args.info.read_text())
    result = {"runs": []}
    if args.loadgen and os.access(args.loadgen, os.X_OK):
        loadgen = args.loadgen
    else:
        loadgen = None
        result["load_note"] = f"{args.loadgen or 'server_loadgen'} is not built; load figures skipped"
    if info.get("available") is False:
        result["load_note"] = f"not run: {info.get('reason', 'unavailable')}"
        args.out.write_text(json.dumps(result, indent=1))
        return 0
    log = open(args.out.with_suffix(".log"), "wb")
    for mode in [m for m in ("base", "process", "thread") if m in info.get("modes", [])]:
        ipc = (info.get("ipc") or ["uds-dgram"])[0]
        for framing in FRAMINGS:
            run = {"mode": mode, "workers": WORKERS, "framing": framing, "ipc": ipc}
            proc, port = start(args.driver, mode, framing, ipc, log)
            if isinstance(port, str):
                run["echo"] = "unsupported" if proc.poll() == 77 else f"failed: {port}"
                stop(proc)
                result["runs"].append(run)
                continue
            try:
                problem = echo_ok(port, framing)
            except OSError as e:
                problem = f"client error: {e}"
            if problem is None and loadgen:
                run["load"], note = run_load(loadgen, port, framing, proc.pid)
                if note:
                    result["load_note"] = note
            status = stop(proc)
            if problem:
                run["echo"] = f"failed: {problem}"
            elif status != 0:
                run["echo"] = "echoes; " + ("killed after SIGTERM timed out" if status is None
                                            else f"exit {status} on SIGTERM")
            else:
                run["echo"] = "ok"
            result["runs"].append(run)
            print(f"  echo-server {mode} {framing}: {run['echo']}")
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
