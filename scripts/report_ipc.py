"""The IPC program's sections of the report: the 1 KiB summary and its findings, every
mechanism in detail, procspec channels against their raw mechanisms, and ratios to the
shared-memory floor (what compares across runs)."""
import benchjson as bj
from report_tables import cell, md_table, ratio


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
