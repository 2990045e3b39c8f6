"""scripts/matrix.py: cells from JUnit reports, the fake driver through real Bats, SPEC parsing.
Run: python3 -m unittest discover -s scripts/tests -p 'test_matrix.py'"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import matrix  # noqa: E402

FIXTURES = HERE / "fixtures"

SPEC = """## WAIT — wait and kill
- WAIT-1 `wait(blocking=true)` returns `{pid, code, signal}`.
- WAIT-4 `wait()` interrupted by a signal (EINTR) retries.
  **Swoole:** 6.x returns false on EINTR.
- WAIT-5 `kill(pid, 0)` on a pid that does not exist returns false.
- MQ-6 Queues are created with mode 0600 (**Swoole:** 0666): other users cannot read them.
- FRM-5 **Swoole:** a `max_length` below 65536 is silently raised to 65536. **procspec:** the
  configured limit is enforced exactly.
"""


def junit(*cases):
    """A Bats-style JUnit report; each case is (name, outcome, text) with outcome ok|failure|skipped."""
    body = []
    for name, outcome, text in cases:
        inner = "" if outcome == "ok" else f"<{outcome}>{text}</{outcome}>"
        body.append(f'<testcase classname="wait.bats" name="{name}" time="0">{inner}</testcase>')
    return f'<testsuites><testsuite name="wait.bats">{"".join(body)}</testsuite></testsuites>'


def write_impl(root, impl, xml_text, info=None):
    (root / impl).mkdir(parents=True)
    (root / impl / "bats.xml").write_text(xml_text)
    if info is not None:
        (root / impl / "info.json").write_text(json.dumps(info))


class SpecParsing(unittest.TestCase):
    def test_entries_with_a_swoole_note_are_known_differences(self):
        known = matrix.swoole_differences(SPEC)
        self.assertEqual(set(known), {"WAIT-4", "FRM-5", "MQ-6"})
        self.assertEqual(known["MQ-6"], "0666")
        self.assertIn("returns false on EINTR", known["WAIT-4"])
        self.assertNotIn("procspec", known["FRM-5"])

    def test_spec_id_is_the_title_prefix(self):
        self.assertEqual(matrix.spec_id("SRV-BASE-1: a worker accepts"), "SRV-BASE-1")
        self.assertEqual(matrix.spec_id("IUT: info names the implementation"), "IUT")
        self.assertEqual(matrix.spec_id("no id here"), "?")


class Cells(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())

    def tearDown(self):
        shutil.rmtree(self.dir)

    def cells(self, impl, xml_text, spec=SPEC):
        write_impl(self.dir, impl, xml_text)
        return dict(matrix.read_results(self.dir, impl, matrix.swoole_differences(spec)))

    def test_unsupported_probe_is_unsupported_and_failure_is_fail(self):
        cells = self.cells("pcntl", junit(("WAIT-1: exit code", "ok", ""),
                                          ("WAIT-3: no children", "skipped", "probe wait-nochild unsupported by pcntl"),
                                          ("WAIT-5: missing pid", "failure", "expected ESRCH")))
        self.assertEqual(cells, {"WAIT-1: exit code": "pass", "WAIT-3: no children": "unsupported",
                                 "WAIT-5: missing pid": "fail"})

    def test_documented_swoole_behaviour_is_a_known_difference_for_swoole_only(self):
        report = junit(("WAIT-4: EINTR is retried", "failure", "returned false"),
                       ("WAIT-5: missing pid", "failure", "no ESRCH"))
        swoole = self.cells("swoole", report)
        self.assertEqual(swoole["WAIT-4: EINTR is retried"], "known difference")
        self.assertEqual(swoole["WAIT-5: missing pid"], "fail")
        self.assertEqual(self.cells("pcntl", report)["WAIT-4: EINTR is retried"], "fail")

    def test_without_spec_nothing_is_a_known_difference(self):
        cells = self.cells("swoole", junit(("WAIT-4: EINTR is retried", "failure", "x")), spec="")
        self.assertEqual(cells["WAIT-4: EINTR is retried"], "fail")

    def test_unavailable_implementation_and_other_skips(self):
        cells = self.cells("swoole", junit(("WAIT-1: a", "skipped", "swoole unavailable: not installed"),
                                           ("WAIT-2: b", "skipped", "needs two cores")))
        self.assertEqual(cells, {"WAIT-1: a": "unavailable", "WAIT-2: b": "skipped"})

    def test_rows_follow_the_spec_order(self):
        write_impl(self.dir, "reference", junit(("WAIT-5: missing pid", "ok", ""), ("IUT: info", "ok", ""),
                                                ("WAIT-1: exit code", "ok", "")))
        text = matrix.render(["reference"], self.dir, SPEC)
        self.assertLess(text.index("| WAIT-1 |"), text.index("| WAIT-5 |"))
        self.assertLess(text.index("| WAIT-5 |"), text.index("| IUT |"))

    def test_render_puts_implementations_side_by_side(self):
        write_impl(self.dir, "reference", junit(("WAIT-5: missing pid", "ok", "")),
                   {"name": "reference", "version": "0.1", "probes": ["kill-missing"]})
        write_impl(self.dir, "swoole", junit(("WAIT-5: missing pid", "skipped", "swoole unavailable: x")),
                   {"name": "swoole", "available": False, "reason": "not installed"})
        text = matrix.render(["reference", "pcntl", "swoole"], self.dir, SPEC)
        self.assertIn("| WAIT-5 | missing pid | pass | — | unavailable |", text)
        self.assertIn("| `kill-missing` | yes | no (77) | unavailable |", text)
        self.assertIn("swoole: unavailable — not installed", text)
        self.assertIn("- WAIT-4: 6.x returns false on EINTR.", text)

    def test_load_figures_side_by_side_with_errors_shown(self):
        bench = {"profile": "smoke", "runs": [
            {"impl": "reference", "mode": "base", "ipc": "none", "workers": 1, "size": 1024, "conns": 50,
             "req_s": 41000.4, "p99_us": 2100, "server_cpu_us_per_req": 12.34},
            {"impl": "pcntl", "mode": "base", "ipc": "none", "workers": 1, "size": 1024, "conns": 50,
             "error": "no 'listening PORT' line"},
            {"impl": "floor", "mode": "epoll-echo", "ipc": "none", "workers": 1, "size": 1024, "conns": 50,
             "req_s": 60000, "p99_us": 900, "server_cpu_us_per_req": 8.0}]}
        lines = matrix.load_table(["reference", "pcntl"], bench)
        self.assertIn("| base | none | 1 | 1024 | 50 | 41000 req/s · p99 2100 µs · 12.3 µs CPU/req | "
                      "error: no 'listening PORT' line |", lines)
        self.assertTrue(any(line.startswith("Floor") and "60000 req/s" in line for line in lines))


@unittest.skipUnless(shutil.which("bats") and shutil.which("jq"), "bats and jq are needed")
class FakeDriverThroughBats(unittest.TestCase):
    """The whole path: the fake driver, the real Bats helpers, JUnit, the matrix."""

    def run_fake_bats(self, impl):
        """{test name: cell} of fake.bats run against fixtures/IMPL/driver."""
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            out = tmp / impl
            out.mkdir()
            env = dict(os.environ, IMPL=impl, PROCSPEC_IMPLS_DIR=str(FIXTURES))
            # -F junit on stdout: Bats 1.8.2's --report-formatter file is written after bats exits.
            with open(out / "bats.xml", "wb") as report:
                subprocess.run(["bats", "-F", "junit", str(FIXTURES / "fake.bats")], env=env, stdout=report,
                               stderr=subprocess.DEVNULL, timeout=60)
            root = ET.parse(out / "bats.xml").getroot()  # well-formed
            self.skip_texts = [e.text or "" for e in root.iter("skipped")]
            return dict(matrix.read_results(tmp, impl, {}))

    def test_unavailable_implementation_is_skipped_with_its_reason(self):
        cells = self.run_fake_bats("unavailable_impl")
        self.assertEqual(set(cells.values()), {"unavailable"})
        self.assertEqual(len(cells), 3)
        self.assertEqual(set(self.skip_texts), {"unavailable_impl unavailable: its extension is not installed"})

    def test_fake_driver_cells(self):
        cells = self.run_fake_bats("fake_impl")
        self.assertEqual(cells["WAIT-1: wait reports the child's exit code"], "pass")
        self.assertEqual(cells["WAIT-3: wait with no children returns none"], "unsupported")
        self.assertEqual(cells["WAIT-5: kill of a missing pid fails with ESRCH"], "fail")


if __name__ == "__main__":
    unittest.main()
