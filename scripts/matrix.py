#!/usr/bin/env python3
"""Writes results/IMPLEMENTATIONS.md: every black-box test (named by its spec ID) against every
implementation, from the Bats JUnit report, driver info and server check each implementation left
in its own folder (scripts/compare.sh writes them):

    REPORTS/IMPL/bats.xml     Bats JUnit report        REPORTS/IMPL/info.json   `driver info`
    REPORTS/IMPL/server.json  echo-server check and load figures (optional)

A cell is pass, fail, unsupported (the driver exited 77), known difference (a failure on a spec
entry that documents Swoole's behaviour with **Swoole:**, for implementations of Swoole's model),
unavailable (the implementation is not installed here) or skipped (any other skip). Stdlib only.
"""
import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

PASS, FAIL, UNSUPPORTED, KNOWN = "pass", "fail", "unsupported", "known difference"
UNAVAILABLE, SKIPPED, NOT_RUN = "unavailable", "skipped", "—"
ID_RE = re.compile(r"^([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*)\s*:")
SPEC_ENTRY_RE = re.compile(r"^- ([A-Z]+(?:-[A-Z]+)*-\d+)\s")
# Implementations that follow Swoole's documented behaviour: their failures on a **Swoole:** entry
# are the documented difference, not a bug of the driver.
SWOOLE_LIKE = {"swoole"}


def spec_id(test_name):
    m = ID_RE.match(test_name)
    return m.group(1) if m else "?"


def swoole_differences(spec_text):
    """{spec ID: what Swoole does} for every SPEC entry carrying a **Swoole:** note."""
    found, current, lines = {}, None, []

    def close():
        text = " ".join(lines)
        parts = text.split("**Swoole:**")
        if current and len(parts) > 1:
            notes = []
            for before, after in zip(parts, parts[1:]):
                note = after.split("**procspec:**", 1)[0].strip()
                if before.count("(") > before.count(")"):  # "(**Swoole:** 0666)": the note ends with the parenthesis
                    note = note.split(")", 1)[0]
                notes.append(note)
            found[current] = " … ".join(notes)
    for line in spec_text.splitlines():
        m = SPEC_ENTRY_RE.match(line)
        if m or not line.startswith("  "):
            close()
            current, lines = (m.group(1), [line]) if m else (None, [])
        else:
            lines.append(line.strip())
    close()
    return found


def classify(case, impl, known):
    """The cell for one JUnit <testcase> of implementation impl."""
    if case.find("failure") is not None or case.find("error") is not None:
        is_known = impl in SWOOLE_LIKE and spec_id(case.get("name", "")) in known
        return KNOWN if is_known else FAIL
    skipped = case.find("skipped")
    if skipped is not None:
        why = " ".join(filter(None, [skipped.text, skipped.get("message")]))
        if " unavailable" in why:
            return UNAVAILABLE
        if "unsupported" in why:
            return UNSUPPORTED
        return SKIPPED
    return PASS


def read_results(report_dir, impl, known):
    """[(test name, cell)] in report order, or None when the implementation left no report."""
    path = report_dir / impl / "bats.xml"
    if not path.exists():
        return None
    root = ET.parse(path).getroot()
    return [(case.get("name", ""), classify(case, impl, known)) for case in root.iter("testcase")]


def read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cell_text(cell):
    return f"**{cell}**" if cell == FAIL else cell


def spec_order(spec_text):
    """Every ID in the order SPEC.md defines them (rows follow the spec, section by section)."""
    ids = []
    for line in spec_text.splitlines():
        m = SPEC_ENTRY_RE.match(line)
        if m and m.group(1) not in ids:
            ids.append(m.group(1))
    return ids


def results_table(impls, results, order_ids=(), infos=None):
    order = []
    for impl in impls:
        for name, _ in results.get(impl) or []:
            if name not in order:
                order.append(name)
    rank = {sid: i for i, sid in enumerate(order_ids)}
    first = {name: i for i, name in enumerate(order)}
    order.sort(key=lambda name: (rank.get(spec_id(name), len(rank)), first[name]))
    cells = {impl: dict(results.get(impl) or []) for impl in impls}
    lines = ["| spec | test | " + " | ".join(impls) + " |",
             "| --- | --- | " + " | ".join("---" for _ in impls) + " |"]
    for name in order:
        title = name.split(":", 1)[1].strip() if ":" in name else name
        row = [cell_text(cells[impl].get(name, NOT_RUN)) if results.get(impl) is not None else not_run(impl, infos)
               for impl in impls]
        lines.append(f"| {spec_id(name)} | {title} | " + " | ".join(row) + " |")
    return lines


def not_run(impl, infos):
    """The cell of an implementation without a report: not installed here, or not run."""
    info = (infos or {}).get(impl) or {}
    return UNAVAILABLE if info.get("available") is False else NOT_RUN


def summary_table(impls, results, infos):
    kinds = [PASS, FAIL, UNSUPPORTED, KNOWN, UNAVAILABLE, SKIPPED]
    lines = ["| implementation | version | " + " | ".join(kinds) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in kinds) + " |"]
    for impl in impls:
        info = infos.get(impl) or {}
        version = info.get("version", "not installed" if info.get("available") is False else "?")
        if results.get(impl) is None and info.get("available") is False:
            counts = [""] * kinds.index(UNAVAILABLE) + ["all"] + [""] * (len(kinds) - kinds.index(UNAVAILABLE) - 1)
        elif results.get(impl) is None:
            counts = ["no report"] + [""] * (len(kinds) - 1)
        else:
            cells = [c for _, c in results[impl]]
            counts = [str(cells.count(k)) for k in kinds]
        lines.append(f"| {impl} | {version} | " + " | ".join(counts) + " |")
    return lines


def probes_table(impls, infos):
    names = []
    for impl in impls:
        for probe in (infos.get(impl) or {}).get("probes", []):
            if probe not in names:
                names.append(probe)
    lines = ["| probe | " + " | ".join(impls) + " |", "| --- | " + " | ".join("---" for _ in impls) + " |"]
    for probe in sorted(names):
        row = []
        for impl in impls:
            info = infos.get(impl) or {}
            if info.get("available") is False:
                row.append(UNAVAILABLE)
            else:
                row.append("yes" if probe in info.get("probes", []) else "no (77)")
        lines.append(f"| `{probe}` | " + " | ".join(row) + " |")
    return lines


def echo_table(impls, servers):
    """echo-server checks (scripts/compare_server.py) per mode and framing, side by side."""
    checks = {}
    for impl in impls:
        for run in (servers.get(impl) or {}).get("runs", []):
            key = f"{run.get('mode')} · {run.get('workers')} workers · {run.get('framing')}"
            checks.setdefault(key, {})[impl] = run.get("echo", "?")
    if not checks:
        return ["No echo-server checks were recorded."]
    lines = ["| echo-server | " + " | ".join(impls) + " |", "| --- | " + " | ".join("---" for _ in impls) + " |"]
    for key, row in checks.items():
        lines.append(f"| {key} | " + " | ".join(row.get(impl, NOT_RUN) for impl in impls) + " |")
    return lines


def load_cell(run):
    if "error" in run:
        return "error: " + str(run["error"]).replace("|", "/").splitlines()[0][:80]
    parts = [f"{run['req_s']:.0f} req/s" if isinstance(run.get("req_s"), (int, float)) else None,
             f"p99 {run['p99_us']:.0f} µs" if isinstance(run.get("p99_us"), (int, float)) else None,
             f"{run['server_cpu_us_per_req']:.1f} µs CPU/req"
             if isinstance(run.get("server_cpu_us_per_req"), (int, float)) else None]
    return " · ".join(p for p in parts if p) or "?"


def load_table(impls, bench):
    """scripts/server_bench.py's runs: one row per configuration, implementations side by side."""
    if not bench:
        return ["No load figures: bench/server_loadgen was not built or no echo-server worked."]
    rows, floor = {}, []
    for run in bench.get("runs", []):
        if run.get("impl") == "floor":
            floor.append(run)
            continue
        key = (run.get("mode"), run.get("ipc"), run.get("workers"), run.get("size"), run.get("conns"))
        rows.setdefault(key, {})[run.get("impl")] = load_cell(run)
    lines = [f"Profile `{bench.get('profile', '?')}`, one pass; server CPU = the whole server tree's CPU "
             "time per request (the figure that compares implementations on 2 vCPUs).", "",
             "| mode | ipc | workers | bytes | conns | " + " | ".join(impls) + " |",
             "| --- | --- | ---: | ---: | ---: | " + " | ".join("---" for _ in impls) + " |"]
    for (mode, ipc, workers, size, conns), row in sorted(rows.items(), key=lambda kv: [str(k) for k in kv[0]]):
        lines.append(f"| {mode} | {ipc} | {workers} | {size} | {conns} | "
                     + " | ".join(row.get(impl, NOT_RUN) for impl in impls) + " |")
    for run in floor:
        lines += ["", f"Floor (minimal epoll echo, same pass, {run.get('size')} B, {run.get('conns')} conns): "
                  + load_cell(run)]
    return lines


def render(impls, report_dir, spec_text):
    known = swoole_differences(spec_text) if spec_text else {}
    results = {impl: read_results(report_dir, impl, known) for impl in impls}
    infos = {impl: read_json(report_dir / impl / "info.json") for impl in impls}
    servers = {impl: read_json(report_dir / impl / "server.json") for impl in impls}
    out = ["# Implementations compared", "",
           "Written by `make compare` (scripts/matrix.py) from the Bats suites run against each "
           "implementation's driver (SPEC section IUT). `unsupported` = the driver exited 77 (the "
           "implementation cannot express it); `known difference` = a failure on a spec entry that "
           "documents Swoole's behaviour; `unavailable` = not installed on this machine.", "",
           "## Summary", ""]
    out += summary_table(impls, results, infos)
    unavailable = [(impl, infos[impl].get("reason", "")) for impl in impls
                   if infos.get(impl) and infos[impl].get("available") is False]
    for impl, reason in unavailable:
        out += ["", f"{impl}: unavailable — {reason}"]
    out += ["", "## Tests × implementations", ""] + results_table(impls, results, spec_order(spec_text), infos)
    out += ["", "## Probes each driver implements", ""] + probes_table(impls, infos)
    out += ["", "## Servers", ""] + echo_table(impls, servers)
    out += ["", "### Load", ""] + load_table(impls, read_json(report_dir / "server_bench.json"))
    if known:
        out += ["", "## Documented Swoole differences (SPEC **Swoole:** entries)", ""]
        out += [f"- {sid}: {note}" for sid, note in known.items()]
    if not spec_text:
        out += ["", "(SPEC.md was not found: known differences could not be marked.)"]
    return "\n".join(out) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, required=True, help="folder with one subfolder per implementation")
    parser.add_argument("--spec", type=Path, help="SPEC.md (for the **Swoole:** entries)")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: stdout)")
    parser.add_argument("impls", nargs="+", help="implementation names, in column order")
    args = parser.parse_args(argv[1:])
    spec_text = ""
    if args.spec:
        try:
            spec_text = args.spec.read_text()
        except OSError as e:
            print(f"matrix: {args.spec}: {e.strerror}; known differences not marked", file=sys.stderr)
    text = render(args.impls, args.reports, spec_text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
