"""Tests of the report's API-vs-raw and A/B sections (report_api.py) and of where the A/B
scripts' JSON goes. Run: python3 -m unittest discover scripts/tests"""
import io
import json
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import benchjson as bj  # noqa: E402
import report  # noqa: E402
import report_api  # noqa: E402


def aggregate(run_name, real_time, **counters):
    entry = {"name": run_name + "_median", "run_name": run_name, "run_type": "aggregate",
             "aggregate_name": "median", "real_time": real_time, "cpu_time": real_time, "time_unit": "ns"}
    entry.update(counters)
    return entry


def process_ipc_json(ours_ns, raw_ns):
    return {"context": {"date": "2026-11-23T00:00:00+00:00", "commit": "abc1234"}, "benchmarks": [
        aggregate("BM_SysvMsg_OneWay/1024/real_time", ours_ns, recv_cpu_us_per_msg=2.5),
        aggregate("BM_SysvMsg_OneWay_Raw/1024/real_time", raw_ns, recv_cpu_us_per_msg=2.4),
        aggregate("BM_SysvMsg_OneWay/64/real_time", 4000.0),
        aggregate("BM_SysvMsg_OneWay_Raw/64/real_time", 2000.0),
        aggregate("BM_UdsSockDgram_OneWay_Raw/1024/real_time", 2000.0),  # no procspec partner
    ]}


class ApiVsRawTest(unittest.TestCase):
    def write_run(self, tmp, ours_ns, raw_ns):
        p = Path(tmp) / "process_ipc.json"
        p.write_text(json.dumps(process_ipc_json(ours_ns, raw_ns)))
        return bj.Run(p)

    def test_rate_ratio_and_the_1kib_verdict(self):
        with tempfile.TemporaryDirectory() as tmp:
            text = report_api.render_api_vs_raw({"process_ipc": self.write_run(tmp, 2500.0, 2400.0)})
        self.assertIn("| `BM_SysvMsg_OneWay/1024/real_time` | 2.5 µs | 2.4 µs | 0.96× | 2.50 / 2.40 | meets 0.95× |", text)
        # Only 1 KiB is judged; an unpaired raw benchmark is left out.
        self.assertIn("| `BM_SysvMsg_OneWay/64/real_time` | 4 µs | 2 µs | 0.50× | – / – |  |", text)
        self.assertNotIn("UdsSockDgram", text)

    def test_below_target_is_flagged(self):
        with tempfile.TemporaryDirectory() as tmp:
            text = report_api.render_api_vs_raw({"process_ipc": self.write_run(tmp, 3000.0, 2400.0)})
        self.assertIn("| 0.80× |", text)
        self.assertIn("**below 0.95×**", text)

    def test_ab_rounds_give_the_verdict(self):
        ab = {"target": 0.95, "rounds": 3, "reps": 4, "pairs": [
            {"label": "MsgQueue push→pop", "median_ratio": 0.97, "meets_target": True,
             "rounds": [{"ratio": 0.9}, {"ratio": 0.97}, {"ratio": 1.01}]},
            {"label": "Process uds_dgram write→read", "median_ratio": 0.9, "meets_target": False,
             "rounds": [{"ratio": 0.9}, {"ratio": 0.88}, {"ratio": 0.93}]}]}
        text = report_api.render_api_ab(ab)
        self.assertIn("| MsgQueue push→pop | 0.970× | 0.90, 0.97, 1.01 | met |", text)
        self.assertIn("| Process uds_dgram write→read | 0.900× | 0.90, 0.88, 0.93 | **not met** |", text)
        self.assertEqual(report_api.render_api_ab(None), "")

    def test_ab_json_is_not_read_as_a_benchmark_run_and_is_rendered(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp)
            latest = results / "latest"
            latest.mkdir()
            (latest / "process_ipc.json").write_text(json.dumps(process_ipc_json(2500.0, 2400.0)))
            (latest / "server_ab.json").write_text(json.dumps({"size": 1024, "conns": 50, "seconds": 2.0, "medians": [
                {"workers": 1, "mode": "base", "ipc": "none", "req_s": 64000.0, "cpu_us_per_req": 12.5,
                 "x_base": 1.0, "cpu_x_base": 1.0, "rounds": [64000.0, 65000.0]}]}))
            self.assertEqual(sorted(bj.load_runs(latest)), ["process_ipc"])
            with redirect_stdout(io.StringIO()):
                report.main([str(results)])
            text = (results / "REPORT.md").read_text()
        self.assertIn("## Server mode targets (interleaved rounds)", text)
        self.assertIn("| 1 | base / none | 64.0k | 1.00× | 12.5 | 1.00× |", text)
        self.assertIn("## procspec API vs raw syscalls", text)
        self.assertNotIn("## server_ab", text)


if __name__ == "__main__":
    unittest.main()
