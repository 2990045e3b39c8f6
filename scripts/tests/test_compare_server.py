"""Tests of scripts/compare_server.py: which channel each mode's echo-server check uses, and what
a failed start reports. Run: python3 -m unittest discover -s scripts/tests"""
import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import compare_server  # noqa: E402


class ChannelFor(unittest.TestCase):
    def test_thread_mode_runs_on_its_own_channel(self):
        listed = ["shm-ring", "sysvmsg", "thread", "uds-batch", "uds-dgram", "uds-stream"]
        self.assertEqual(compare_server.channel_for("thread", listed), "thread")
        self.assertEqual(compare_server.channel_for("process", listed), "uds-dgram")
        self.assertEqual(compare_server.channel_for("base", listed), "uds-dgram")

    def test_without_uds_dgram_the_first_process_channel(self):
        self.assertEqual(compare_server.channel_for("process", ["thread", "sysvmsg"]), "sysvmsg")
        self.assertEqual(compare_server.channel_for("base", []), "uds-dgram")


class FailedStart(unittest.TestCase):
    def test_an_early_exit_reports_its_status_and_last_stderr_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            driver = Path(tmp) / "driver"
            driver.write_text("#!/bin/sh\necho 'starting' >&2\necho \"echo-server: ipc $9 is refused\" >&2\nexit 2\n")
            os.chmod(driver, 0o755)
            with open(Path(tmp) / "log", "wb") as log:
                log.write(b"an earlier run's line\n")
                proc, message = compare_server.start(str(driver), "thread", "none", "shm-ring", log)
                proc.stdout.close()
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(message, "exited 2 before listening: echo-server: ipc shm-ring is refused")


if __name__ == "__main__":
    unittest.main()
