"""The server section of the report: every server run with its ratio to BASE and to the
epoll floor, and the format of results/latest/server.json."""
import benchjson as bj
from report_tables import md_table, ratio

SERVER_FORMAT = """\
```json
{"context": {"date": "...", "kernel": "...", "cpu_model": "...", "online_cpus": 2, "msgmax": "8192",
             "msgmnb": "16384", "commit": "...", "build": "build/release"},
 "profile": "quick",
 "runs": [{"impl": "reference", "mode": "process", "ipc": "uds-dgram", "workers": 2, "conns": 50,
           "size": 1024, "pipeline": 1, "framing": "length", "duration_s": 2.0,
           "req_s": 41000.0, "p50_us": 900.0, "p99_us": 2100.0, "p999_us": 4000.0, "max_us": 9000.0,
           "server_cpu_us_per_req": 21.5, "client_cpu_us_per_req": 15.0,
           "requests": 82000, "errors": 0, "server_exit": 0}]}
```
One object per measured point (written by `scripts/server_bench.py`, which drives
`bench/server_loadgen` against each implementation's `driver echo-server`). `mode` is
base | process | thread; the floor, a minimal epoll echo loop (`bench/floor_echo_server`), is
`"impl": "floor", "mode": "epoll-echo", "ipc": "none"` at the same loads. `ipc` is the SPEC
channel name (`none` where the mode has none), `size` the request bytes,
`server_cpu_us_per_req` the whole server tree's CPU time (from /proc) divided by `requests`,
`errors` the failed or mismatched responses; a configuration that could not run carries
`"error": "why"` instead of figures. The report's ratios: req/s over BASE at the same
(workers, conns, size), and server CPU per request over the floor at the same (conns, size)."""


def _server_key(r):
    return r.get("conns"), r.get("size")


def server_rows(server):
    """Server runs with their ratios: req/s against BASE (same impl, workers, conns, size; else any
    BASE at that load) and server CPU per request against the epoll floor at the same load."""
    runs = server["runs"]
    floors = {_server_key(r): r for r in runs if r.get("impl") == "floor" and r.get("req_s")}
    bases = [r for r in runs if r.get("mode") == "base" and r.get("req_s")]
    rows = []
    order = lambda r: (r.get("size", 0), r.get("conns", 0), r.get("impl") != "floor",
                       MODE_ORDER.get(r.get("mode"), 9), r.get("ipc", ""), r.get("workers", 0))
    for r in sorted(runs, key=order):
        base = next((b for b in bases if b.get("impl") == r.get("impl") and b.get("workers") == r.get("workers")
                     and _server_key(b) == _server_key(r)), None) or \
            next((b for b in bases if _server_key(b) == _server_key(r)), None)
        floor = floors.get(_server_key(r))
        ok = r.get("req_s") and "error" not in r
        rows.append(dict(r, vs_base=r["req_s"] / base["req_s"] if ok and base and r.get("impl") != "floor" else None,
                         cpu_vs_floor=(r["server_cpu_us_per_req"] / floor["server_cpu_us_per_req"]
                                       if ok and floor and r.get("server_cpu_us_per_req")
                                       and floor.get("server_cpu_us_per_req") else None)))
    return rows


MODE_ORDER = {"epoll-echo": 0, "base": 1, "thread": 2, "process": 3}


def render_server(server):
    rows = []
    for r in server_rows(server):
        note = r.get("error", "")
        if r.get("errors"):
            note = f"{r['errors']} bad responses " + note
        rows.append((r.get("impl", ""), r.get("mode", ""), r.get("ipc", "-"), r.get("workers", ""),
                     r.get("conns", ""), r.get("size", ""), bj.fmt_rate(r.get("req_s")), ratio(r["vs_base"]),
                     bj.fmt_num(r.get("p50_us")), bj.fmt_num(r.get("p99_us")), bj.fmt_num(r.get("p999_us")),
                     bj.fmt_num(r.get("server_cpu_us_per_req")), ratio(r["cpu_vs_floor"]),
                     bj.fmt_num(r.get("client_cpu_us_per_req")), note.strip()))
    out = md_table(["impl", "mode", "ipc", "workers", "conns", "size", "req/s", "× BASE req/s", "p50 µs",
                    "p99 µs", "p99.9 µs", "server CPU µs/req", "× floor CPU", "client CPU µs/req", "note"], rows)
    if not any(r.get("impl") != "floor" for r in server["runs"]):
        out += ("\nOnly the floor (a minimal epoll echo loop) ran: the implementation's driver lists no server "
                "modes yet (`driver info`).\n")
    out += ("\nOn 2 vCPUs the load generator needs about a CPU of its own, so req/s is client-bound; server CPU "
            "per request (the whole server tree's CPU time from /proc divided by requests) is the fair figure. "
            "Targets: THREAD ≥ 1.0× BASE req/s, PROCESS ≥ 0.5× BASE over UDS channels, BASE CPU/req ≤ 1.1× floor.\n")
    return out
