#!/usr/bin/env python3
"""Turns the latest benchmark run into results/REPORT.md and plots in results/img/.

  report.py [RESULTS_DIR=results] [--summary-only]

Reads RESULTS_DIR/latest/*.json (Google Benchmark JSON, one file per program) and, when present,
RESULTS_DIR/latest/server.json (the load generator's format, see SERVER_FORMAT below). Compares
with the newest run archived in RESULTS_DIR/history/<date>-<commit>/ and flags a change only
when the two runs' repetition ranges do not overlap. Standard library, plus matplotlib for the
plots when it is installed (Debian's python3-matplotlib; `scripts/deps.sh report`).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchjson as bj  # noqa: E402
import report_plots  # noqa: E402

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


def pick(run_map, name):
    return run_map.get(name) or next(iter(run_map.values()), None)


def ipc_index(run):
    """{(mech, raw): {pattern: {size: Benchmark}}} for IPC-style names."""
    idx = {}
    for name, b in run.benchmarks.items():
        parsed = bj.parse_name(name)
        if not parsed:
            continue
        mech, pattern, raw, size = parsed
        idx.setdefault((mech, raw), {}).setdefault(pattern, {})[size] = b
    return idx


def label(mech, raw, idx):
    """'UdsDgram' when only one variant exists, else 'UdsDgram raw' / 'UdsDgram procspec'."""
    both = (mech, not raw) in idx
    if not both:
        return mech
    return f"{mech} {'raw' if raw else 'procspec'}"


def rate(b):
    s = b.stat("items_per_second") if b and not b.error else None
    return s


def summary_rows(run, size=1024):
    idx = ipc_index(run)
    floor = rate(idx.get((bj.FLOOR, False), {}).get("OneWay", {}).get(size))
    base = rate(idx.get((bj.BASELINE, True), {}).get("OneWay", {}).get(size))
    rows = []
    for (mech, raw), pats in sorted(idx.items(), key=lambda kv: (kv[0][0] != bj.FLOOR, kv[0])):
        ow = rate(pats.get("OneWay", {}).get(size))
        pp = pats.get("PingPong", {}).get(size)
        p50 = pp.stat("p50_us") if pp and not pp.error else None
        p99 = pp.stat("p99_us") if pp and not pp.error else None
        if ow is None and p50 is None:
            continue
        rows.append({
            "label": label(mech, raw, idx), "mech": mech, "raw": raw,
            "rate": ow.median if ow else None, "rate_stat": ow,
            "vs_floor": ow.median / floor.median if ow and floor else None,
            "vs_uds": ow.median / base.median if ow and base else None,
            "p50_us": p50.median if p50 else None, "p99_us": p99.median if p99 else None,
        })
    # The floor first, then fastest to slowest; latency-only rows (busy-polling) last.
    rows.sort(key=lambda r: (r["mech"] != bj.FLOOR, r["rate"] is None, -(r["rate"] or 0)))
    return rows


def procspec_ratios(run):
    """(pair name, procspec median time, raw median time, procspec/raw) for every pair."""
    rows = []
    for name, b in sorted(run.benchmarks.items()):
        if "_Raw/" not in name:
            continue
        other = run.benchmarks.get(bj.pair_key(name))
        if other is None or b.error or other.error:
            continue
        raw_t, ps_t = b.stat("real_time"), other.stat("real_time")
        if raw_t and ps_t and raw_t.median:
            rows.append((bj.pair_key(name), ps_t.median, raw_t.median, ps_t.median / raw_t.median))
    return rows


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def ratio(v):
    return "–" if v is None else (f"{v:.2f}×" if v < 10 else f"{v:.0f}×")


def render_summary(run):
    rows = summary_rows(run)
    if not rows:
        return "_No IPC benchmarks in this run._\n"
    body = [(f"**{r['label']}**" if r["mech"] == bj.FLOOR else r["label"],
             bj.fmt_rate(r["rate"]) + ("/s" if r["rate"] else ""), ratio(r["vs_floor"]), ratio(r["vs_uds"]),
             bj.fmt_num(r["p50_us"]), bj.fmt_num(r["p99_us"])) for r in rows]
    return md_table(["mechanism", "1 KiB one-way msgs/s", "× ShmRing floor", "× UdsStream raw",
                     "1 KiB round trip p50 µs", "p99 µs"], body) + (
        "\nShmRing is the cross-process floor (shared memory, eventfd wake-up only when a side sleeps); "
        "ThreadQueue stays inside one process, so it may beat it. ShmRingSpin busy-polls (ping-pong only).\n")


KERNEL_MECHS = ("UdsStream", "UdsDgram", "SeqPacket", "Pipe", "SysvMsg", "PosixMq")


def render_findings(run):
    """Two sentences a reader can quote, computed from the summary rows of this run."""
    rows = summary_rows(run)
    kernel = [r for r in rows if r["mech"] in KERNEL_MECHS and r["raw"] and r["rate"]]
    floor = next((r for r in rows if r["mech"] == bj.FLOOR and r["rate"]), None)
    spin = next((r for r in rows if r["mech"] == "ShmRingSpin" and r["p50_us"]), None)
    if not kernel:
        return ""
    lo, hi = min(kernel, key=lambda r: r["rate"]), max(kernel, key=lambda r: r["rate"])
    out = (f"At 1 KiB the kernel mechanisms stream {bj.fmt_rate(lo['rate'])}–{bj.fmt_rate(hi['rate'])} "
           f"messages/s ({lo['label']} slowest, {hi['label']} fastest)")
    if floor:
        out += (f", {100 * lo['rate'] / floor['rate']:.0f}–{100 * hi['rate'] / floor['rate']:.0f}% of the "
                f"shared-memory floor's {bj.fmt_rate(floor['rate'])}/s")
    lat = [r["p50_us"] for r in kernel if r["p50_us"]]
    if lat:
        out += f"; a kernel round trip takes {min(lat):.3g}–{max(lat):.3g} µs at the median"
        if spin:
            out += f", against {spin['p50_us']:.2g} µs when both sides busy-poll shared memory"
    cost = ipc_index(run)
    cpu = []
    for r in kernel:
        b = cost.get((r["mech"], True), {}).get("OneWay", {}).get(1024)
        if b and not b.error and b.stat("cpu_us") and b.stat("peer_cpu_us"):
            cpu.append(b.stat("cpu_us").median + b.stat("peer_cpu_us").median)
    fb = cost.get((bj.FLOOR, False), {}).get("OneWay", {}).get(1024)
    if cpu:
        out += f". Each kernel message costs {min(cpu):.2g}–{max(cpu):.2g} µs of CPU across both sides"
        if fb and not fb.error and fb.stat("cpu_us") and fb.stat("peer_cpu_us"):
            ring = fb.stat("cpu_us").median + fb.stat("peer_cpu_us").median
            out += (f", while the ring copies the same bytes twice for {ring:.2g} µs: the system calls "
                    "and wake-ups, not the copies, set the price")
    return out + ".\n"


def cell(stat, fmt):
    if stat is None:
        return "–"
    spread = stat.spread_text(fmt)
    return f"{fmt(stat.median)} ({spread})" if spread else fmt(stat.median)


def render_mechanisms(run):
    idx = ipc_index(run)
    out = []
    for (mech, raw), pats in sorted(idx.items()):
        out.append(f"#### {label(mech, raw, idx)}\n")
        sizes = sorted({s for p in pats.values() for s in p})
        rows = []
        for size in sizes:
            ow, pp = pats.get("OneWay", {}).get(size), pats.get("PingPong", {}).get(size)
            err = next((b.error for b in (ow, pp) if b and b.error), None)
            g = lambda b, f: b.stat(f) if b and not b.error else None
            cpu = [g(ow, "cpu_us"), g(ow, "peer_cpu_us")]
            csw = [g(ow, k) for k in ("vcsw", "ivcsw", "peer_vcsw", "peer_ivcsw")]
            rows.append((
                f"{size} B",
                cell(g(ow, "items_per_second"), bj.fmt_rate),
                bj.fmt_rate(g(ow, "bytes_per_second").median) + "B/s" if g(ow, "bytes_per_second") else "–",
                bj.fmt_num(sum(c.median for c in cpu)) if all(cpu) else "–",
                bj.fmt_num(sum(c.median for c in csw), 2) if all(csw) else "–",
                cell(g(pp, "p50_us"), bj.fmt_num),
                bj.fmt_num(g(pp, "p99_us").median) if g(pp, "p99_us") else "–",
                bj.fmt_num(g(pp, "p999_us").median) if g(pp, "p999_us") else "–",
            ) + ((f"⚠ {err}",) if err else ("",)))
        out.append(md_table(["size", "one-way msgs/s (min..max)", "bytes/s", "CPU µs/msg (both)",
                             "ctx sw/msg (both)", "RTT p50 µs (min..max)", "p99", "p99.9", "note"], rows))
    return "\n".join(out)


def render_other(run):
    rows = []
    for name, b in sorted(run.benchmarks.items()):
        t, c, ips = b.stat("real_time"), b.stat("cpu_time"), b.stat("items_per_second")
        rows.append((name, cell(t, bj.fmt_ns), bj.fmt_ns(c.median) if c else "–",
                     bj.fmt_rate(ips.median) + "/s" if ips else "–", b.error or ""))
    return md_table(["benchmark", "time (min..max)", "CPU", "items/s", "note"], rows)


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


CONTEXT_KEYS = ("date", "host_name", "kernel", "cpu_model", "num_cpus", "mhz_per_cpu", "load_avg",
                "msgmax", "msgmnb", "wmem_max", "wmem_default", "mq_msgsize_max", "mq_msg_max",
                "compiler", "procspec_build_type", "library_build_type", "commit", "cpu_plan")


def render_context(runs):
    run = pick(runs, "ipc")
    ctx = run.context
    rows = [(k, ctx[k] if not isinstance(ctx[k], list) else ", ".join(f"{x:.2f}" for x in ctx[k]))
            for k in CONTEXT_KEYS if k in ctx]
    out = md_table(["", ""], rows)
    if ctx.get("library_build_type") == "debug":
        out += ("\nGoogle Benchmark reports `library_build_type: debug`: Debian's libbenchmark is "
                "built without NDEBUG. The timed loops are our own optimised code "
                f"({ctx.get('procspec_build_type', '?')}); the library's bookkeeping runs outside them.\n")
    prow = [(name, r.context.get("placement_ring_rtt_ns", "–"),
             r.context.get("placement_samples_ns", r.context.get("placement_ring_rtt_p90_ns", "–")).replace(",", ", "),
             r.context.get("placement_cpus", r.context.get("placement_error", "–"))) for name, r in sorted(runs.items())]
    out += ("\n**Placement check** (busy-polled 64-byte shared-memory ring round trip measured just before "
            "each program's benchmarks). The host moves this VM's vCPUs around: compare ratios within a run; "
            "compare absolute figures across runs only when these agree.\n\n")
    out += md_table(["program", "ring RTT ns (median)", "every check (ns; p90 if one)", "placement"], prow)
    return out


def stamp_of(run):
    return f"{run.context.get('date', 'unknown')[:10]}-{run.context.get('commit', 'unknown')}"


def previous_run(history_dir, runs):
    """The newest archived run that is not this one: {program: Run}, its directory name."""
    current = {stamp_of(r) for r in runs.values()}
    dirs = sorted((d for d in Path(history_dir).glob("*") if d.is_dir() and d.name not in current),
                  key=lambda d: d.name, reverse=True)
    for d in dirs:
        prev = bj.load_runs(d)
        if prev:
            return prev, d.name
    return None, None


def floor_ratios(run, size=1024):
    """{label: (ratio median, lo, hi)}: 1 KiB one-way rate over the ShmRing floor, with the range
    that the two benchmarks' repetition ranges allow."""
    idx = ipc_index(run)
    floor = rate(idx.get((bj.FLOOR, False), {}).get("OneWay", {}).get(size))
    out = {}
    if not floor or not floor.median:
        return out
    f_lo, f_hi = floor.range()
    for (mech, raw), pats in idx.items():
        st = rate(pats.get("OneWay", {}).get(size))
        if st is None or mech == bj.FLOOR or not f_lo or not f_hi:
            continue
        lo, hi = st.range()
        out[label(mech, raw, idx)] = (st.median / floor.median, lo / f_hi, hi / f_lo)
    return out


def render_ratio_history(run, prev_run):
    now, then = floor_ratios(run), floor_ratios(prev_run)
    rows = []
    for name in sorted(set(now) & set(then)):
        (n, n_lo, n_hi), (t, t_lo, t_hi) = now[name], then[name]
        changed = n_lo > t_hi or t_lo > n_hi
        rows.append((name, f"{t:.3f}", f"{n:.3f}", f"{100 * (n - t) / t:+.0f}%" if t else "–",
                     "**changed**" if changed else "within spread"))
    if not rows:
        return ""
    return ("Ratios are what compare across runs (the host's vCPU placement moves absolute figures): "
            "1 KiB one-way rate as a fraction of the ShmRing floor, then and now; flagged only when the "
            "ranges the repetitions allow do not overlap.\n\n" +
            md_table(["mechanism", "× floor then", "× floor now", "change", ""], rows))


def render_history(runs, prev, prev_name):
    if not prev:
        return "_No previous committed run in results/history/ yet._\n"
    out = [f"Previous run: `results/history/{prev_name}/`.\n"]
    if "ipc" in runs and "ipc" in prev:
        out.append(render_ratio_history(runs["ipc"], prev["ipc"]))
    out.append("Absolute times, flagged only where the repetitions' min..max ranges do not overlap:\n")
    for name, run in sorted(runs.items()):
        if name not in prev:
            continue
        rows = bj.compare(prev[name], run)
        flagged = [r for r in rows if r["significant"]]
        rtt_old = prev[name].context.get("placement_ring_rtt_ns", "?")
        rtt_new = run.context.get("placement_ring_rtt_ns", "?")
        out.append(f"**{name}**: {len(rows)} benchmarks in common, {len(flagged)} changed beyond the "
                   f"repetitions' range (placement check {rtt_old} ns then, {rtt_new} ns now).\n")
        if flagged:
            out.append(md_table(["benchmark", "time then", "time now", "change"],
                                [(r["name"], bj.fmt_ns(r["time_old"]), bj.fmt_ns(r["time_new"]),
                                  f"{100 * r['time_change']:+.0f}%") for r in flagged]))
    return "\n".join(out)


def perf_summaries(latest):
    """(file name, 'N context-switches, ...') for each perf-*.txt from scripts/perf_stat.sh."""
    out = []
    for p in sorted(Path(latest).glob("perf-*.txt")):
        counts = []
        for line in p.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1] in ("context-switches", "cpu-migrations", "page-faults", "msec",
                                                "instructions", "cycles"):
                counts.append(" ".join(parts[:3] if parts[1] == "msec" else parts[:2]))
        out.append((p.name, ", ".join(counts) or "no counts"))
    return out


def build_report(runs, server, prev, prev_name, images, perf=()):
    ipc = runs.get("ipc")
    parts = ["# procspec benchmark report\n",
             "Generated by `make report` (scripts/report.py) from `results/latest/`. Figures are medians "
             "of the repetitions; spreads are the repetitions' min..max. Every receiver verified every "
             "payload (IPC-3); a benchmark that failed shows its error instead of a figure.\n"]
    if ipc:
        parts += ["## Summary: IPC mechanisms at 1 KiB\n",
                  "One-way streaming rate (messages/s, higher is better) and its ratio to the shared-memory "
                  "ring floor and to raw UDS SOCK_STREAM; round-trip latency from the ping-pong pattern.\n",
                  render_summary(ipc), render_findings(ipc)]
    if server:
        parts += ["## Server modes\n", render_server(server)]
    for key, title in (("throughput", "Throughput vs message size"), ("latency", "Round-trip latency"),
                       ("cost", "CPU and context switches per message"), ("server", "Server modes side by side")):
        if key in images:
            parts.append(f"![{title}](img/{images[key]})\n")
    if ipc:
        ratios = procspec_ratios(ipc)
        parts += ["## procspec channels vs raw mechanisms\n",
                  md_table(["benchmark", "procspec", "raw", "procspec / raw time"],
                           [(n, bj.fmt_ns(p), bj.fmt_ns(r), ratio(x)) for n, p, r, x in ratios])
                  if ratios else "_No procspec channel benchmarks yet (they pair with `_Raw` by name)._\n",
                  "## IPC mechanisms in detail\n", render_mechanisms(ipc)]
    for name, run in sorted(runs.items()):
        if name != "ipc":
            parts += [f"## {name}\n", render_other(run)]
    if perf:
        parts += ["## perf stat captures\n", "From `scripts/perf_stat.sh FILTER [program]` (whole process tree, "
                  "benchmark and forked peers):\n"] + [f"- `{name}`: {summary}" for name, summary in perf] + [""]
    parts += ["## Comparison with the previous committed run\n", render_history(runs, prev, prev_name)]
    if runs:
        parts += ["## Machine and placement\n", render_context(runs)]
    parts += ["## Server-run JSON format\n",
              "`results/latest/server.json`, written by the load generator; rendered above when present.\n",
              SERVER_FORMAT + "\n"]
    return "\n".join(parts)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    results = Path(args[0] if args else "results")
    latest = results / "latest"
    runs = bj.load_runs(latest)
    server = bj.load_server(latest / "server.json")
    if "--summary-only" in argv:
        if "ipc" in runs:
            sys.stdout.write(render_summary(runs["ipc"]))
        return 0
    prev, prev_name = previous_run(results / "history", runs)
    images = report_plots.draw_all(runs, server, results / "img")
    text = build_report(runs, server, prev, prev_name, images, perf_summaries(latest))
    (results / "REPORT.md").write_text(text)
    print(f"report.py: wrote {results / 'REPORT.md'} ({len(images)} plots in {results / 'img'})")
    if "ipc" in runs:
        sys.stdout.write(render_summary(runs["ipc"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
