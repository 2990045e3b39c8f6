"""Plots for report.py (matplotlib, Agg backend). Each function returns the file name it wrote;
draw_all returns {kind: file name} and is empty when matplotlib is missing."""
from pathlib import Path

import benchjson as bj
from report_ipc import ipc_index, label

# One colour per mechanism across every plot; the floor is black.
COLOURS = {"ShmRing": "#000000", "ShmRingSpin": "#555555", "ThreadQueue": "#7f7f7f",
           "UdsStream": "#1f77b4", "UdsDgram": "#ff7f0e", "SeqPacket": "#2ca02c", "Pipe": "#d62728",
           "SysvMsg": "#9467bd", "PosixMq": "#8c564b", "UdsBatch": "#17becf", "ShmRingChannel": "#bcbd22"}


CANONICAL_SIZES = (64, 1024, 16384)


def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        return None


def _series(run):
    idx = ipc_index(run)
    for (mech, raw), pats in sorted(idx.items(), key=lambda kv: (kv[0][0] != bj.FLOOR, kv[0])):
        yield mech, raw, label(mech, raw, idx), pats


def _style(ax, title, xlabel, ylabel):
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _subtitle(run):
    c = run.context
    return (f"{c.get('cpu_model', '?')}, {c.get('num_cpus', '?')} vCPUs, {c.get('kernel', '')}, "
            f"{c.get('date', '')[:16]}, commit {c.get('commit', '?')}; placement ring RTT "
            f"{c.get('placement_ring_rtt_ns', '?')} ns")


def plot_throughput(plt, run, path):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.2))
    for mech, raw, name, pats in _series(run):
        ok = {s: b for s, b in pats.get("OneWay", {}).items() if not b.error}
        if not ok:
            continue
        # Solid: raw mechanisms and the floor; dashed: procspec channels; dotted: in-process.
        ls = ":" if mech == "ThreadQueue" else ("-" if raw or mech == bj.FLOOR else "--")
        style = dict(color=COLOURS.get(mech, "#333333"), marker="s" if mech == "ThreadQueue" else "o",
                     lw=2.4 if mech == bj.FLOOR else 1.6, ls=ls, label=name)
        for ax, field, scale in ((ax1, "items_per_second", 1.0), (ax2, "bytes_per_second", 1 / 2**20)):
            pts = sorted((size, b.stat(field)) for size, b in ok.items() if b.stat(field))
            if not pts:
                continue
            ys = [st.median * scale for _, st in pts]
            lo = [(st.median - st.range()[0]) * scale for _, st in pts]
            hi = [(st.range()[1] - st.median) * scale for _, st in pts]
            ax.errorbar([size for size, _ in pts], ys, yerr=[lo, hi], capsize=3, **style)
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([64, 1024, 8192, 16384], ["64 B", "1 KiB", "8 KiB", "16 KiB"])
    _style(ax1, "One-way messages per second", "message size", "messages/s (log)")
    _style(ax2, "One-way bandwidth", "message size", "MiB/s (log)")
    handles, labels = ax1.get_legend_handles_labels()
    ax2.legend(handles, labels, fontsize=8, loc="lower right", ncol=2)
    fig.suptitle("IPC one-way streaming: higher is better (error bars: min..max of repetitions)", fontsize=12)
    fig.text(0.5, 0.005, _subtitle(run), ha="center", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(plt, run, path):
    series = [(m, raw, n, pats.get("PingPong", {})) for m, raw, n, pats in _series(run) if pats.get("PingPong")]
    # Panels at the canonical sizes; a mechanism capped below one (SysV, POSIX mq: 8 KiB) shows
    # its largest size there, marked with *.
    present = {s for *_, pp in series for s in pp}
    sizes = [s for s in CANONICAL_SIZES if s in present] or sorted(present)
    if not series or not sizes:
        return False
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.3 * len(sizes), 5.2), sharey=True, squeeze=False)
    width = 0.27
    values = []
    for k, (ax, size) in enumerate(zip(axes[0], sizes)):
        names, rows = [], []
        lower = sizes[k - 1] if k > 0 else 0
        for mech, raw, name, pp in series:
            capped_sizes = [s for s in pp if lower < s <= size]
            b = pp.get(size) or (pp.get(max(capped_sizes)) if capped_sizes else None)
            if b is None or b.error or b.stat("p50_us") is None:
                continue
            capped = " *" if size not in pp else ""
            names.append(name + capped)
            rows.append((mech, [b.stat(k).median for k in ("p50_us", "p99_us", "p999_us")]))
        for i, (pct, alpha) in enumerate((("p50", 1.0), ("p99", 0.55), ("p99.9", 0.25))):
            xs = [j + (i - 1) * width for j in range(len(rows))]
            ax.bar(xs, [r[1][i] for r in rows], width, color=[COLOURS.get(r[0], "#333333") for r in rows],
                   alpha=alpha, edgecolor="#333333", linewidth=0.4, label=pct)
            if pct == "p50":  # the median is the figure people quote: print it on its bar
                for x, r in zip(xs, rows):
                    ax.annotate(f"{r[1][0]:.3g}", (x, r[1][0]), xytext=(0, 2), textcoords="offset points",
                                ha="center", va="bottom", fontsize=6.5, rotation=90, annotation_clip=True)
        ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
        ax.set_yscale("log")
        values += [v for r in rows for v in r[1] if v and v > 0]
        _style(ax, f"{size} B" if size < 1024 else f"{size // 1024} KiB", "", "round trip, µs (log)" if size == sizes[0] else "")
    if values:  # shared log axis from below the fastest median to above the slowest tail
        axes[0][0].set_ylim(min(values) * 0.5, max(values) * 2.5)
    handles = [plt.Rectangle((0, 0), 1, 1, color="#444444", alpha=a) for a in (1.0, 0.55, 0.25)]
    fig.legend(handles, ["p50", "p99", "p99.9"], fontsize=8, loc="upper right", ncol=3, frameon=False)
    fig.suptitle("Ping-pong round-trip latency by mechanism: lower is better (* = capped at the kernel limit)",
                 fontsize=12)
    fig.text(0.5, 0.005, _subtitle(run), ha="center", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_cost(plt, run, path, size=1024):
    rows = []
    for mech, raw, name, pats in _series(run):
        b = pats.get("OneWay", {}).get(size)
        if not b or b.error or b.stat("cpu_us") is None:
            continue
        g = lambda k: b.stat(k).median if b.stat(k) else 0.0
        rows.append((mech, name, g("cpu_us"), g("peer_cpu_us"), g("vcsw") + g("ivcsw") + g("peer_vcsw") + g("peer_ivcsw")))
    if not rows:
        return False
    # The summary table's order: the floor, then fastest to slowest (by total CPU per message).
    rows.sort(key=lambda r: (r[0] != bj.FLOOR, r[2] + r[3]))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    ys = range(len(rows))
    ax1.barh(ys, [r[2] for r in rows], color=[COLOURS.get(r[0], "#333333") for r in rows], label="receiver")
    ax1.barh(ys, [r[3] for r in rows], left=[r[2] for r in rows], color=[COLOURS.get(r[0], "#333333") for r in rows],
             alpha=0.45, label="sender (peer)")
    ax1.set_yticks(list(ys), [r[1] for r in rows])
    ax1.invert_yaxis()
    _style(ax1, f"CPU time per {size}-byte message (receiver + sender)", "µs per message", "")
    ax1.legend(fontsize=8, loc="upper right")  # the floor rows at the top are short
    ax2.barh(ys, [r[4] for r in rows], color=[COLOURS.get(r[0], "#333333") for r in rows])
    ax2.set_yticks(list(ys), [r[1] for r in rows])
    ax2.invert_yaxis()
    _style(ax2, "Context switches per message (both sides)", "switches per message", "")
    fig.suptitle("Why: where one-way streaming spends its time (1 KiB)", fontsize=12)
    fig.text(0.5, 0.005, _subtitle(run), ha="center", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_server(plt, server, path):
    runs = [r for r in server["runs"] if r.get("req_s") and "error" not in r]
    if not any(r.get("impl") != "floor" for r in runs):  # the floor alone is no comparison
        return False
    groups = sorted({(r.get("size"), r.get("conns"), r.get("workers")) for r in runs})
    modes = sorted({(r.get("mode"), r.get("ipc", "-")) for r in runs},
                   key=lambda m: ({"epoll-echo": 0, "base": 1, "thread": 2, "process": 3}.get(m[0], 9), m[1]))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(8, 1.1 * len(groups) * len(modes) / 2), 8), sharex=True)
    width = 0.8 / len(modes)
    cmap = plt.get_cmap("tab10")
    for i, mode in enumerate(modes):
        xs, req, cpu = [], [], []
        for j, g in enumerate(groups):
            r = next((r for r in runs if (r.get("size"), r.get("conns"), r.get("workers")) == g
                      and (r.get("mode"), r.get("ipc", "-")) == mode), None)
            if r:
                xs.append(j + (i - (len(modes) - 1) / 2) * width)
                req.append(r["req_s"])
                cpu.append(r.get("server_cpu_us_per_req") or 0)
        name = mode[0] if mode[1] in ("-", "", "none", None) else f"{mode[0]} / {mode[1]}"
        if mode[0] == "epoll-echo":
            name = "floor (epoll echo)"
        ax1.bar(xs, req, width, color=cmap(i), label=name)
        ax2.bar(xs, cpu, width, color=cmap(i))
    ax2.set_xticks(range(len(groups)), [f"{s} B\n{c} conns\n{w} workers" for s, c, w in groups], fontsize=8)
    _style(ax1, "Requests per second (higher is better; client-bound on 2 vCPUs)", "", "req/s")
    _style(ax2, "Server CPU per request (lower is better; the fair comparison)", "", "µs per request")
    ax1.legend(fontsize=8, ncol=3)
    fig.suptitle("Server modes side by side", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def draw_all(runs, server, img_dir):
    plt = _plt()
    if plt is None:
        print("report.py: matplotlib missing (scripts/deps.sh report): no plots")
        return {}
    img_dir = Path(img_dir)
    img_dir.mkdir(parents=True, exist_ok=True)
    images = {}
    ipc = runs.get("ipc")
    if ipc:
        plot_throughput(plt, ipc, img_dir / "ipc_throughput.png")
        images["throughput"] = "ipc_throughput.png"
        if plot_latency(plt, ipc, img_dir / "ipc_latency.png"):
            images["latency"] = "ipc_latency.png"
        if plot_cost(plt, ipc, img_dir / "ipc_cost.png"):
            images["cost"] = "ipc_cost.png"
    stale = img_dir / "server_modes.png"
    if server and plot_server(plt, server, stale):
        images["server"] = "server_modes.png"
    elif stale.exists():
        stale.unlink()  # no server results: no placeholder plot
    return images
