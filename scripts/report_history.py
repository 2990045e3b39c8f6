"""The comparison with the previous committed run (results/history/<date>-<commit>/): floor
ratios then and now, and absolute times flagged only where the repetitions' ranges do not overlap."""
from pathlib import Path

import benchjson as bj
from report_ipc import floor_ratios
from report_tables import md_table


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
