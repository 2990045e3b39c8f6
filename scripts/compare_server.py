#!/usr/bin/env python3
"""The echo-server check of `make compare` for one implementation: starts its `driver echo-server`
(SPEC IUT) in each mode it lists, checks that packets come back unchanged on two connections and
that SIGTERM ends it with status 0. Writes the results as JSON for scripts/matrix.py; the load
figures come from scripts/server_bench.py for the implementations that pass. Stdlib only."""
import argparse
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

FRAMINGS = ["none", "length:N:0:4:65536"]
WORKERS = 2
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


def channel_for(mode, listed):
    """The channel to run `mode` on: THREAD's own in-process one when the driver lists it, else
    SPEC IUT's default uds-dgram, else the first the driver lists that is not `thread`."""
    if mode == "thread" and "thread" in listed:
        return "thread"
    if not listed or "uds-dgram" in listed:
        return "uds-dgram"
    return next((c for c in listed if c != "thread"), listed[0])


def start(driver, mode, framing, ipc, log):
    """(process, port) or (process, message) when it did not start listening within 10 s; the
    message carries the exit status and the last line the server wrote to stderr, if it ended."""
    log.flush()
    log_start = log.tell()
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
    if line:
        return proc, f"first line was {line!r}"
    if proc.poll() is None:
        return proc, "no 'listening PORT' line within 10 s"
    log.flush()
    with open(log.name, "rb") as f:
        f.seek(log_start)
        said = [x for x in f.read().decode(errors="replace").splitlines() if x.strip()]
    return proc, f"exited {proc.returncode} before listening" + (f": {said[-1].strip()}" if said else "")


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


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", required=True)
    parser.add_argument("--info", type=Path, required=True, help="the driver's `info` JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv[1:])
    info = json.loads(args.info.read_text())
    result = {"runs": []}
    if info.get("available") is False:
        args.out.write_text(json.dumps(result, indent=1))
        return 0
    log = open(args.out.with_suffix(".log"), "wb")
    for mode in [m for m in ("base", "process", "thread") if m in info.get("modes", [])]:
        ipc = channel_for(mode, info.get("ipc") or [])
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
