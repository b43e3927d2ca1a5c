#!/usr/bin/env python3
"""Drives the real `conduit` binary: listings (also as JSON), send/recv, exit codes, rm, and a
terminal session of `watch` in tmux. Each test gets a namespace of its own."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

CONDUIT = None


class Cli(unittest.TestCase):
    def setUp(self):
        self.namespace = tempfile.mkdtemp(prefix="conduit-cli.", dir="/dev/shm")
        self.env = dict(os.environ, CONDUIT_NAMESPACE=self.namespace)

    def tearDown(self):
        shutil.rmtree(self.namespace, ignore_errors=True)

    def run_conduit(self, *args, input=None, timeout=30):
        return subprocess.run([CONDUIT, *args], env=self.env, input=input, capture_output=True,
                              text=True, timeout=timeout)

    def make_mailbox(self, name, capacity=8):
        made = self.run_conduit("create", name, "--capacity", str(capacity))
        self.assertEqual(made.returncode, 0, made.stderr)

    def test_send_then_recv_round_trip_with_types(self):
        self.make_mailbox("jobs")
        self.assertEqual(self.run_conduit("send", "jobs", "first", "--type", "3").returncode, 0)
        self.assertEqual(self.run_conduit("send", "jobs", "second").returncode, 0)
        typed = self.run_conduit("recv", "jobs", "--type", "3")
        self.assertEqual(typed.stdout, "first\n")
        plain = self.run_conduit("recv", "jobs", "--json")
        message = json.loads(plain.stdout)
        self.assertEqual(message["text"], "second")
        self.assertEqual(message["type"], 0)

    def test_ls_and_stat_as_json(self):
        self.make_mailbox("jobs", capacity=5)
        self.run_conduit("send", "jobs", "waiting")
        listing = json.loads(self.run_conduit("ls", "--json").stdout)
        self.assertEqual([entry["name"] for entry in listing], ["jobs"])
        self.assertEqual(listing[0]["kind"], "mailbox")
        self.assertEqual(listing[0]["mailbox"]["depth"], 1)
        self.assertEqual(listing[0]["mailbox"]["capacity"], "5")
        self.assertEqual(listing[0]["mode"], "0600")
        stat = json.loads(self.run_conduit("stat", "jobs", "--json").stdout)
        self.assertEqual(stat["mailbox"]["sent"], 1)
        table = self.run_conduit("ls").stdout
        self.assertIn("jobs", table)
        self.assertIn("1/5", table)

    def test_exit_codes_a_shell_user_expects(self):
        missing = self.run_conduit("recv", "nothing")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("mailbox 'nothing': open: not found", missing.stderr)
        self.assertEqual(self.run_conduit("stat", "bad/name").returncode, 1)
        self.assertEqual(self.run_conduit("no-such-verb").returncode, 2)
        self.make_mailbox("quiet")
        empty = self.run_conduit("recv", "quiet", "--timeout", "50ms")
        self.assertEqual(empty.returncode, 3, "nothing arrived: a condition, not a failure")
        self.assertEqual(self.run_conduit("recv", "quiet", "--timeout", "soon").returncode, 2)

    def test_send_from_a_file_and_count(self):
        self.make_mailbox("files")
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("from a file")
        try:
            self.assertEqual(self.run_conduit("send", "files", "--file", f.name).returncode, 0)
        finally:
            os.unlink(f.name)
        self.assertEqual(self.run_conduit("send", "files", "--file", "-", input="from stdin").returncode, 0)
        both = self.run_conduit("recv", "files", "--count", "2")
        self.assertEqual(both.stdout, "from a file\nfrom stdin\n")

    def test_rm_removes_and_wakes(self):
        self.make_mailbox("doomed")
        waiting = subprocess.Popen([CONDUIT, "recv", "doomed"], env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.2)
        self.assertEqual(self.run_conduit("rm", "doomed").returncode, 0)
        _, err = waiting.communicate(timeout=10)
        self.assertEqual(waiting.returncode, 1)
        self.assertIn("removed", err)
        self.assertEqual(json.loads(self.run_conduit("ls", "--json").stdout), [])
        self.assertEqual(self.run_conduit("rm", "doomed").returncode, 1)

    def test_create_options_and_errors(self):
        made = self.run_conduit("create", "news", "--capacity", "zero", "--receivers", "broadcast",
                                "--max-size", "100", "--mode", "0660")
        self.assertEqual(made.returncode, 0, made.stderr)
        stat = json.loads(self.run_conduit("stat", "news", "--json").stdout)
        self.assertEqual(stat["mailbox"]["capacity"], "zero")
        self.assertEqual(stat["mailbox"]["receivers"], "broadcast")
        self.assertEqual(stat["mailbox"]["max_message_size"], 100)
        self.assertEqual(stat["mode"], "0660")
        again = self.run_conduit("create", "news")
        self.assertEqual(again.returncode, 1)
        self.assertIn("already exists", again.stderr)
        self.assertEqual(self.run_conduit("create", "x", "--capacity", "lots").returncode, 2)

    def test_doctor_reports_each_check(self):
        doctor = json.loads(self.run_conduit("doctor", "--json").stdout)
        checks = {entry["check"] for entry in doctor}
        self.assertIn("namespace", checks)
        self.assertIn("/dev/shm is tmpfs", checks)

    @unittest.skipUnless(shutil.which("tmux"), "tmux is not installed")
    def test_watch_in_a_terminal(self):
        self.make_mailbox("live")
        session = f"conduit-watch-{os.getpid()}"
        env_args = ["-e", f"CONDUIT_NAMESPACE={self.namespace}"]
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "20",
                        *env_args, CONDUIT, "watch", "live", "--interval", "100ms"], check=True)
        try:
            for _ in range(3):
                self.run_conduit("send", "live", "tick")
            screen = ""
            for _ in range(100):
                screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                        capture_output=True, text=True).stdout
                if "3 / 8" in screen:
                    break
                time.sleep(0.1)
            self.assertIn("conduit watch live", screen)
            self.assertIn("3 / 8", screen)
            subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
            for _ in range(50):
                alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True)
                if alive.returncode != 0:
                    break
                time.sleep(0.1)
            self.assertNotEqual(alive.returncode, 0, "q did not end watch")
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--conduit", required=True)
    args, rest = parser.parse_known_args()
    CONDUIT = os.path.abspath(args.conduit)
    unittest.main(argv=[sys.argv[0], *rest])
