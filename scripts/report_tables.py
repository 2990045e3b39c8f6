"""Markdown building blocks for report.py: tables, ratios, a median with its spread, and the
plain table of any benchmark program's results."""
import benchjson as bj


def pick(run_map, name):
    return run_map.get(name) or next(iter(run_map.values()), None)


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def ratio(v):
    return "–" if v is None else (f"{v:.2f}×" if v < 10 else f"{v:.0f}×")


def cell(stat, fmt):
    if stat is None:
        return "–"
    spread = stat.spread_text(fmt)
    return f"{fmt(stat.median)} ({spread})" if spread else fmt(stat.median)


def render_other(run):
    rows = []
    for name, b in sorted(run.benchmarks.items()):
        t, c, ips = b.stat("real_time"), b.stat("cpu_time"), b.stat("items_per_second")
        rows.append((name, cell(t, bj.fmt_ns), bj.fmt_ns(c.median) if c else "–",
                     bj.fmt_rate(ips.median) + "/s" if ips else "–", b.error or ""))
    return md_table(["benchmark", "time (min..max)", "CPU", "items/s", "note"], rows)
