"""The report's "procspec API vs raw syscalls" section: Process pipes and queues (process_ipc)
and the Pool's queue (pool) against the raw syscall loop on the same kernel object, measured in
the same run with interleaved repetitions. Issue 3's target: at 1 KiB every mechanism reaches
0.95x the raw rate."""
import benchjson as bj
from report_tables import md_table

TARGET = 0.95
TARGET_SIZE = "1024"
PROGRAMS = ("process_ipc", "pool")


def api_pairs(run):
    """(name, procspec Benchmark, raw Benchmark) for every `_Raw` benchmark with a partner."""
    out = []
    for name, raw in sorted(run.benchmarks.items()):
        if "_Raw/" not in name:
            continue
        ours = run.benchmarks.get(bj.pair_key(name))
        if ours is not None:
            out.append((bj.pair_key(name), ours, raw))
    return out


def _rate_ratio(ours, raw):
    """procspec rate / raw rate, from the median times (higher is better, 1.0 = the raw loop)."""
    t_ours, t_raw = ours.stat("real_time"), raw.stat("real_time")
    if ours.error or raw.error or not t_ours or not t_raw or not t_ours.median:
        return None
    return t_raw.median / t_ours.median


def _cpu(b, key):
    s = b.stat(key) if not b.error else None
    return f"{s.median:.2f}" if s else "–"


def _verdict(name, r):
    if r is None or f"/{TARGET_SIZE}/" not in name or "Million" in name or "Latency" in name:
        return ""
    return "meets 0.95×" if r >= TARGET else "**below 0.95×**"


def render_api_vs_raw(runs):
    rows = []
    for prog in PROGRAMS:
        run = runs.get(prog)
        if not run:
            continue
        for name, ours, raw in api_pairs(run):
            r = _rate_ratio(ours, raw)
            rows.append((f"`{name}`", bj.fmt_ns(ours.stat("real_time").median) if ours.stat("real_time") else "–",
                         bj.fmt_ns(raw.stat("real_time").median) if raw.stat("real_time") else "–",
                         "–" if r is None else f"{r:.2f}×",
                         _cpu(ours, "recv_cpu_us_per_msg") + " / " + _cpu(raw, "recv_cpu_us_per_msg"),
                         _verdict(name, r)))
    if not rows:
        return "_No process_ipc or pool results in this run._\n"
    intro = ("Each procspec call beside the raw syscall loop on the same kernel object (same buffer sizes, "
             "same payload check), interleaved repetitions of one run. Rate ratio = raw time / procspec "
             "time: 1.00× is the raw loop's speed. Receiver CPU µs per message, procspec / raw. One run "
             "is one sample: on this VM a pair's ratio moves by ±10% between runs, and a SysV pair can "
             "fall into the regime where the queue (16 messages of 1 KiB) stays full and every send "
             "sleeps and must be woken (see send vcsw in process_ipc.json), which costs the receiver "
             "about 1 µs per message whichever side it happens to. The verdict is therefore the "
             "median over separate runs, from `scripts/api_ab.py`, above.\n")
    return intro + "\n" + md_table(["benchmark", "procspec", "raw", "rate ratio", "recv CPU µs/msg", "1 KiB target"], rows)


def render_api_ab(ab):
    """The rounds of scripts/api_ab.py (results/latest/api_ab.json): the 1 KiB verdicts."""
    if not ab or not ab.get("pairs"):
        return ""
    rows = []
    for p in ab["pairs"]:
        per_round = ", ".join(f"{r['ratio']:.2f}" for r in p["rounds"])
        rows.append((p["label"], f"{p['median_ratio']:.3f}×", per_round,
                     "met" if p["meets_target"] else "**not met**"))
    head = (f"Rounds of `scripts/api_ab.py` ({ab['rounds']} separate runs, {ab['reps']} interleaved repetitions "
            f"each): rate ratio procspec / raw at 1 KiB, target ≥ {ab['target']}×.\n")
    return head + "\n" + md_table(["mechanism", "median ratio", "per round", "target"], rows)


def render_server_ab(ab):
    """The rounds of scripts/server_ab.py (results/latest/server_ab.json): the mode targets."""
    if not ab or not ab.get("medians"):
        return ""
    rows = [(m["workers"], f"{m['mode']} / {m['ipc']}", f"{m['req_s'] / 1000:.1f}k", f"{m['x_base']:.2f}×",
             f"{m['cpu_us_per_req']:.1f}", f"{m['cpu_x_base']:.2f}×") for m in ab["medians"]]
    head = (f"Rounds of `scripts/server_ab.py` ({len(ab['medians'][0].get('rounds', []))} rounds, every "
            f"configuration back to back in each; {ab['size']} B, {ab['conns']} connections, {ab['seconds']:g} s "
            "each): medians, ratios against BASE with the same worker count.\n")
    return head + "\n" + md_table(["workers", "mode / ipc", "req/s", "× BASE", "CPU µs/req", "CPU × BASE"], rows)
