"""Reading Google Benchmark JSON (with --benchmark_report_aggregates_only) and our server-run
JSON; shared by report.py and compare.py. Standard library only.

Benchmark names follow STYLE: BM_<Mechanism>_<Pattern>[_Raw]/<bytes>[/real_time]. A name
without `_Raw` is procspec's channel (or, for ShmRing, the floor); pairs are made by stripping
`_Raw`.
"""
import json
import math
import re
from pathlib import Path

NAME_RE = re.compile(r"^BM_(?P<mech>[A-Za-z0-9]+)_(?P<pattern>[A-Za-z0-9]+)(?P<raw>_Raw)?"
                     r"/(?P<size>\d+)(?:/.*)?$")
FLOOR = "ShmRing"
BASELINE = "UdsStream"
TIME_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def parse_name(run_name):
    """(mechanism, pattern, raw, size) for IPC-style names, else None."""
    m = NAME_RE.match(run_name)
    if not m:
        return None
    return m["mech"], m["pattern"], bool(m["raw"]), int(m["size"])


def pair_key(run_name):
    """The name with `_Raw` removed: a procspec benchmark and its raw baseline share it."""
    return run_name.replace("_Raw/", "/")


class Stat:
    """One figure of one benchmark across repetitions: median plus its spread."""

    def __init__(self, median, lo=None, hi=None, stddev=None, mean=None):
        self.median = median
        self.lo = lo
        self.hi = hi
        self.stddev = stddev
        self.mean = mean

    def range(self):
        """The repetitions' range: min..max when recorded, else mean +/- stddev, else the point."""
        if self.lo is not None and self.hi is not None:
            return self.lo, self.hi
        if self.stddev is not None:
            centre = self.mean if self.mean is not None else self.median
            return centre - self.stddev, centre + self.stddev
        return self.median, self.median

    def spread_text(self, fmt):
        if self.lo is not None and self.hi is not None and self.lo != self.hi:
            return f"{fmt(self.lo)}..{fmt(self.hi)}"
        if self.stddev is not None and self.median:
            return f"±{100.0 * self.stddev / self.median:.0f}%"
        return ""


class Benchmark:
    """One run_name's entries keyed by aggregate name ('median', 'min', ...; '' = plain run)."""

    def __init__(self, run_name):
        self.run_name = run_name
        self.entries = {}

    @property
    def error(self):
        for e in self.entries.values():
            if e.get("error_occurred"):
                return e.get("error_message", "error")
        return None

    def _value(self, entry, field):
        if field in ("real_time", "cpu_time"):
            unit = TIME_UNITS.get(entry.get("time_unit", "ns"), 1.0)
            v = entry.get(field)
            return None if v is None else float(v) * unit  # ns
        v = entry.get(field)
        return None if v is None else float(v)

    def stat(self, field):
        """Stat of field (times in ns) from the aggregates, or from a single plain run."""
        get = lambda agg: (self._value(self.entries[agg], field) if agg in self.entries else None)
        median = get("median")
        if median is None:
            median = get("mean")
        if median is None and "" in self.entries:
            median = get("")
        if median is None:
            return None
        return Stat(median, lo=get("min"), hi=get("max"), stddev=get("stddev"), mean=get("mean"))

    @property
    def repetitions(self):
        for e in self.entries.values():
            if "repetitions" in e:
                return e["repetitions"]
        return 1


class Run:
    def __init__(self, path):
        self.path = Path(path)
        with open(path) as f:
            data = json.load(f)
        self.context = data.get("context", {})
        self.benchmarks = {}
        for e in data.get("benchmarks", []):
            name = e.get("run_name", e["name"])
            agg = e.get("aggregate_name", "") if e.get("run_type") == "aggregate" else ""
            self.benchmarks.setdefault(name, Benchmark(name)).entries[agg] = e

    @property
    def program(self):
        return self.path.stem


def load_runs(directory):
    """Every Google Benchmark JSON in directory, by program name (server.json and the A/B
    scripts' *_ab.json are other formats)."""
    runs = {}
    for p in sorted(Path(directory).glob("*.json")):
        if p.name == "server.json" or p.stem.endswith("_ab"):
            continue
        try:
            runs[p.stem] = Run(p)
        except (json.JSONDecodeError, KeyError) as exc:
            print(f"benchjson: skipping {p}: {exc}")
    return runs


SERVER_FIELDS = ("impl", "mode", "ipc", "workers", "conns", "size", "req_s", "p50_us", "p99_us",
                 "p999_us", "server_cpu_us_per_req", "requests", "errors")


def load_server(path):
    """The load generator's JSON: {"context": {...}, "runs": [{SERVER_FIELDS...}, ...]}."""
    p = Path(path)
    if not p.exists():
        return None
    with open(p) as f:
        data = json.load(f)
    runs = [r for r in data.get("runs", []) if isinstance(r, dict)]
    return {"context": data.get("context", {}), "runs": runs}


def ranges_overlap(a, b):
    (a_lo, a_hi), (b_lo, b_hi) = a.range(), b.range()
    return a_lo <= b_hi and b_lo <= a_hi


def relative_change(old, new):
    if old in (None, 0) or new is None or (isinstance(old, float) and math.isnan(old)):
        return None
    return (new - old) / old


def compare(base, contender):
    """Rows for benchmarks present in both runs: name, time/cpu (base, new, relative change) and
    whether the change is significant (the repetitions' time ranges do not overlap)."""
    rows = []
    for name, b in base.benchmarks.items():
        c = contender.benchmarks.get(name)
        if c is None or b.error or c.error:
            continue
        bt, ct = b.stat("real_time"), c.stat("real_time")
        bc, cc = b.stat("cpu_time"), c.stat("cpu_time")
        if bt is None or ct is None:
            continue
        rows.append({
            "name": name,
            "time_old": bt.median, "time_new": ct.median,
            "time_change": relative_change(bt.median, ct.median),
            "cpu_old": bc.median if bc else None, "cpu_new": cc.median if cc else None,
            "cpu_change": relative_change(bc.median if bc else None, cc.median if cc else None),
            "significant": not ranges_overlap(bt, ct),
        })
    return rows


def fmt_rate(v):
    if v is None:
        return "–"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def fmt_ns(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.3g} ms"
    if v >= 1e3:
        return f"{v / 1e3:.3g} µs"
    return f"{v:.3g} ns"


def fmt_num(v, digits=3):
    if v is None:
        return "–"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"
