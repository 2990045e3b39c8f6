"""Tests of the report/compare logic against small Google Benchmark JSON fixtures.
Run: python3 -m unittest discover scripts/tests   (standard library only; plots are skipped
when matplotlib is missing)."""
import io
import json
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIX = HERE / "fixtures"
sys.path.insert(0, str(HERE.parent))

import benchjson as bj  # noqa: E402
import compare  # noqa: E402
import merge_bench_json  # noqa: E402
import report  # noqa: E402
import report_ipc  # noqa: E402
import report_server  # noqa: E402


class NameTest(unittest.TestCase):
    def test_parses_ipc_names(self):
        self.assertEqual(bj.parse_name("BM_UdsStream_OneWay_Raw/1024/real_time"), ("UdsStream", "OneWay", True, 1024))
        self.assertEqual(bj.parse_name("BM_ShmRing_OneWay/64/real_time"), ("ShmRing", "OneWay", False, 64))
        self.assertEqual(bj.parse_name("BM_SysvMsg_PingPong_Raw/8192"), ("SysvMsg", "PingPong", True, 8192))
        self.assertIsNone(bj.parse_name("BM_Memcpy"))

    def test_pairs_by_stripping_raw(self):
        self.assertEqual(bj.pair_key("BM_UdsDgram_OneWay_Raw/1024/real_time"), "BM_UdsDgram_OneWay/1024/real_time")


class RunTest(unittest.TestCase):
    def setUp(self):
        self.run = bj.Run(FIX / "ipc.json")

    def test_median_and_range_from_aggregates(self):
        s = self.run.benchmarks["BM_UdsStream_OneWay_Raw/1024/real_time"].stat("items_per_second")
        self.assertAlmostEqual(s.median, 2.0e5)
        lo, hi = s.range()
        self.assertAlmostEqual(lo, 1.9e5)
        self.assertAlmostEqual(hi, 2.1e5)

    def test_errors_are_kept(self):
        self.assertEqual(self.run.benchmarks["BM_PosixMq_OneWay_Raw/1024/real_time"].error, "payload mismatch at msg 17")

    def test_stddev_range_when_no_min_max(self):
        s = bj.Run(FIX / "stddev_only.json").benchmarks["BM_A/64/real_time"].stat("real_time")
        self.assertEqual(s.range(), (990.0, 1010.0))


class SummaryTest(unittest.TestCase):
    def setUp(self):
        self.run = bj.Run(FIX / "ipc.json")

    def test_ratios_to_floor_and_baseline(self):
        rows = {r["label"]: r for r in report_ipc.summary_rows(self.run)}
        self.assertEqual(next(iter(rows)), "ShmRing")  # the floor comes first
        self.assertAlmostEqual(rows["UdsStream"]["vs_floor"], 0.1)
        self.assertAlmostEqual(rows["UdsStream"]["vs_uds"], 1.0)
        self.assertAlmostEqual(rows["ShmRing"]["vs_uds"], 10.0)
        self.assertAlmostEqual(rows["UdsStream"]["p50_us"], 15.0)
        # Both variants of UdsDgram exist: labelled apart.
        self.assertIn("UdsDgram raw", rows)
        self.assertIn("UdsDgram procspec", rows)
        # An errored benchmark contributes no figure.
        self.assertNotIn("PosixMq", rows)

    def test_procspec_over_raw(self):
        ratios = report_ipc.procspec_ratios(self.run)
        self.assertEqual(len(ratios), 1)
        name, ps, raw, ratio = ratios[0]
        self.assertEqual(name, "BM_UdsDgram_OneWay/1024/real_time")
        self.assertAlmostEqual(ratio, 1.5)

    def test_summary_markdown(self):
        text = report_ipc.render_summary(self.run)
        self.assertIn("| **ShmRing** | 2M/s | 1.00× | 10×", text)
        self.assertIn("| UdsStream | 200k/s | 0.10× | 1.00× | 15 | 60 |", text)


class CompareTest(unittest.TestCase):
    def test_flags_only_non_overlapping_ranges(self):
        rows = {r["name"]: r for r in bj.compare(bj.Run(FIX / "base.json"), bj.Run(FIX / "contender.json"))}
        self.assertEqual(set(rows), {"BM_A/64/real_time", "BM_B/64/real_time"})
        self.assertTrue(rows["BM_A/64/real_time"]["significant"])    # 1000±5% vs 1500±5%
        self.assertFalse(rows["BM_B/64/real_time"]["significant"])   # 1000±5% vs 1030±5%
        self.assertAlmostEqual(rows["BM_A/64/real_time"]["time_change"], 0.5)

    def test_table_shape(self):
        out = io.StringIO()
        with redirect_stdout(out):
            compare.main([str(FIX / "base.json"), str(FIX / "contender.json")])
        lines = out.getvalue().splitlines()
        self.assertTrue(lines[0].startswith("Benchmark"))
        self.assertIn("Time Old", lines[0])
        a = next(l for l in lines if l.startswith("BM_A/"))
        b = next(l for l in lines if l.startswith("BM_B/"))
        self.assertIn("+0.5000", a)
        self.assertTrue(a.endswith("*"))
        self.assertFalse(b.endswith("*"))


class ServerTest(unittest.TestCase):
    def test_server_table_has_ratio_to_base(self):
        server = bj.load_server(FIX / "server.json")
        text = report_server.render_server(server)
        self.assertIn("| reference | process | uds-dgram | 1 | 50 | 64 | 55k | 0.55× |", text)
        self.assertIn("| reference | thread | - | 1 | 50 | 64 | 104k | 1.04× |", text)
        # BASE's server CPU per request against the epoll floor at the same load: 8.0 / 7.5.
        self.assertIn("| 8 | 1.07× |", text)
        # The floor comes first and a failed configuration shows its error.
        lines = [l for l in text.splitlines() if l.startswith("| ")]
        self.assertTrue(lines[1].startswith("| floor | epoll-echo |"))
        self.assertIn("no 'listening PORT' line", text)

    def test_missing_server_file(self):
        self.assertIsNone(bj.load_server(FIX / "absent.json"))


class MergeTest(unittest.TestCase):
    def test_chunks_merge_with_placement_samples(self):
        a = {"context": {"commit": "x", "placement_ring_rtt_ns": "900"}, "benchmarks": [{"name": "A"}]}
        b = {"context": {"commit": "x", "placement_ring_rtt_ns": "250"}, "benchmarks": [{"name": "B"}]}
        c = {"context": {"commit": "x", "placement_ring_rtt_ns": "300"}, "benchmarks": []}
        m = merge_bench_json.merge([a, b, c])
        self.assertEqual([e["name"] for e in m["benchmarks"]], ["A", "B"])
        self.assertEqual(m["context"]["placement_ring_rtt_ns"], "300")
        self.assertEqual(m["context"]["placement_samples_ns"], "900,250,300")


class EndToEndTest(unittest.TestCase):
    def test_report_with_history_and_server(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp)
            (results / "latest").mkdir()
            shutil.copy(FIX / "ipc.json", results / "latest" / "ipc.json")
            shutil.copy(FIX / "server.json", results / "latest" / "server.json")
            old = json.loads((FIX / "ipc.json").read_text())
            old["context"].update(commit="0000000", date="2026-11-01T00:00:00+00:00")
            for e in old["benchmarks"]:
                if e["run_name"].startswith("BM_ShmRing"):
                    e["real_time"] *= 3
                    e["items_per_second"] /= 3
            (results / "history" / "2026-11-01-0000000").mkdir(parents=True)
            (results / "history" / "2026-11-01-0000000" / "ipc.json").write_text(json.dumps(old))
            with redirect_stdout(io.StringIO()):
                report.main([str(results)])
            text = (results / "REPORT.md").read_text()
            self.assertIn("## Summary: IPC mechanisms at 1 KiB", text)
            self.assertIn("## Server modes", text)
            self.assertIn("results/history/2026-11-01-0000000/", text)
            self.assertIn("1 changed beyond", text)  # only the ShmRing time moved beyond its range
            # The floor got 3x slower in the old run, so every ratio to it moved: flagged.
            self.assertIn("| UdsStream | 0.300 | 0.100 | -67% | **changed** |", text)
            self.assertIn("library_build_type: debug", text)
            self.assertIn("payload mismatch at msg 17", text)
            if report_plots_available():
                self.assertTrue((results / "img" / "server_modes.png").exists())

    def test_no_server_plot_without_server_results(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp)
            (results / "latest").mkdir()
            (results / "img").mkdir()
            (results / "img" / "server_modes.png").write_bytes(b"stale")
            shutil.copy(FIX / "ipc.json", results / "latest" / "ipc.json")
            with redirect_stdout(io.StringIO()):
                report.main([str(results)])
            text = (results / "REPORT.md").read_text()
            self.assertNotIn("## Server modes\n", text)
            self.assertIn("_No previous committed run", text)
            if report_plots_available():
                self.assertFalse((results / "img" / "server_modes.png").exists())


def report_plots_available():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    unittest.main()
