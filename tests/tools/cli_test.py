#!/usr/bin/env python3
"""Drives the real `conduit` binary: listings (also as JSON), send/recv, exit codes, rm and
rm --dead, the tour, the bash completion script, and a terminal session of `watch` in tmux.
Each test gets a namespace of its own."""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

CONDUIT = None
FIXTURE = None
COMPLETION = None
WITH_EXAMPLES = "--with-examples" in sys.argv  # the example programs were built
VERBS = ["create", "ls", "stat", "rm", "send", "recv", "watch", "doctor", "bench", "tour"]


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

    def wait_for(self, predicate, what, tries=200):
        for _ in range(tries):
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        self.fail(f"never happened: {what}")

    def listing(self, *extra):
        done = self.run_conduit("ls", "--json", *extra)
        self.assertEqual(done.returncode, 0, done.stderr)
        return {entry["name"]: entry for entry in json.loads(done.stdout)}

    def test_process_lifetime_mailbox_lives_with_its_command_and_rm_dead_reaps_it(self):
        holder = subprocess.Popen([CONDUIT, "create", "held", "--lifetime", "process"], env=self.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            entry = self.wait_for(lambda: self.listing().get("held"), "'held' appears")
            self.assertEqual(entry["lifetime"], "process")
            self.assertEqual(entry["owner_pid"], holder.pid)
            self.assertTrue(entry["owner_alive"])
            table = self.run_conduit("ls").stdout
            self.assertRegex(table, rf"held\s+{holder.pid}\s+yes")
            nothing = self.run_conduit("rm", "--dead", "--json")
            self.assertEqual(json.loads(nothing.stdout), {"removed": []}, "its owner is alive")
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
        said, _ = holder.communicate(timeout=10)
        self.assertIn("lives until this command ends", said)
        reaped = self.run_conduit("rm", "--dead")
        self.assertEqual(reaped.returncode, 0, reaped.stderr)
        self.assertIn("removed held (its owner died)", reaped.stdout)
        self.assertIn("1 object reaped", reaped.stdout)
        self.assertEqual(self.listing(), {})
        self.assertEqual(self.run_conduit("rm", "--dead").stdout, "0 objects reaped\n")

    def test_rm_dead_leaves_system_lifetime_objects_of_dead_creators(self):
        self.make_mailbox("kept")  # its creator, `conduit create`, has exited
        entry = self.listing()["kept"]
        self.assertEqual(entry["lifetime"], "system")
        self.assertFalse(entry["owner_alive"])
        self.assertEqual(json.loads(self.run_conduit("rm", "--dead", "--json").stdout),
                         {"removed": []})
        self.assertIn("kept", self.listing())
        self.assertEqual(self.run_conduit("rm").returncode, 2, "rm with nothing to remove")
        self.assertEqual(self.run_conduit("rm", "kept", "--json").returncode, 2, "--json needs --dead")
        self.assertIn("kept", self.listing())

    def test_channels_show_depth_and_capacity(self):
        made = subprocess.run([FIXTURE, "channel", "ticks", "3"], env=self.env, capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(made.returncode, 0, made.stderr)
        entry = self.listing()["ticks"]
        self.assertEqual(entry["kind"], "channel")
        self.assertEqual(entry["channel"]["depth"], 3)
        self.assertEqual(entry["channel"]["capacity"], 8)
        self.assertEqual(entry["channel"]["record_size"], 8)
        self.assertEqual(entry["channel"]["producers"], "one")
        self.assertRegex(self.run_conduit("ls").stdout, r"ticks.*\s3/8\n")
        stat = self.run_conduit("stat", "ticks")
        self.assertEqual(stat.returncode, 0, stat.stderr)
        self.assertRegex(stat.stdout, r"depth:\s+3\n")
        self.assertRegex(stat.stdout, r"record size:\s+8\n")

    def test_watch_without_a_terminal_refreshes_n_times(self):
        self.make_mailbox("quiet", capacity=4)
        self.run_conduit("send", "quiet", "one")
        watched = self.run_conduit("watch", "quiet", "--interval", "10ms", "--iterations", "2",
                                   input="")  # input that is not a terminal is not read
        self.assertEqual(watched.returncode, 0, watched.stderr)
        self.assertEqual(watched.stdout.count("conduit watch quiet"), 2)
        self.assertNotIn("\033[2J", watched.stdout, "no screen clearing into a pipe")
        self.assertIn("1 / 4", watched.stdout)
        self.assertEqual(self.run_conduit("watch", "quiet", "--interval", "often").returncode, 2)
        self.assertEqual(self.run_conduit("watch", "nothing", "-n", "1").returncode, 1)

    def test_watch_shows_a_channels_depth_and_roles(self):
        made = subprocess.run([FIXTURE, "channel", "ticks", "3"], env=self.env, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(made.returncode, 0, made.stderr)
        watched = self.run_conduit("watch", "ticks", "--interval", "10ms", "--iterations", "2",
                                   input="")
        self.assertEqual(watched.returncode, 0, watched.stderr)
        self.assertEqual(watched.stdout.count("conduit watch ticks"), 2)
        self.assertRegex(watched.stdout, r"channel\s+3/8\s+one producer")
        self.assertRegex(watched.stdout, r"record\s+8 bytes")

    def test_doctor_exit_code_agrees_with_its_checks(self):
        listed = self.run_conduit("doctor", "--json")
        checks = json.loads(listed.stdout)
        names = {check["check"] for check in checks}
        for expected in ("/dev/shm free space", "open files limit", "POSIX mq limits (mq://)",
                         "System V queue limits (sysv://)", "mpirun (MPI backend and peer)",
                         "iox-roudi (iceoryx peer in benchmarks)"):
            self.assertIn(expected, names)
        healthy = all(check["ok"] for check in checks)
        self.assertEqual(listed.returncode, 0 if healthy else 1)
        for check in checks:
            self.assertEqual(check["fix"] != "", not check["ok"], check)
        text = self.run_conduit("doctor")
        self.assertEqual(text.returncode, listed.returncode)
        self.assertEqual("FIX " in text.stdout, not healthy)

    # The tour. Running every scenario is the ctest tools.tour; these check how it counts.

    def tour(self, *args, env=None, timeout=300):
        return subprocess.run([CONDUIT, "tour", *args], env=env or self.env, capture_output=True,
                              text=True, timeout=timeout)

    @unittest.skipUnless(WITH_EXAMPLES, "the examples are not built (CONDUIT_BUILD_EXAMPLES=OFF)")
    def test_tour_lists_every_model_and_each_is_built(self):
        listed = self.tour("--list", "--json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        scenarios = {entry["name"]: entry for entry in json.loads(listed.stdout)}
        for model in ("shared_counter", "bounded_buffer", "unbounded_buffer", "rendezvous",
                      "empties", "direct_naming", "receivers", "selective_receive",
                      "process_owned", "synchronisation", "pipe", "fifo", "sockets",
                      "message_queues", "signal", "file_spool", "rpc", "ring_local", "ring_mpi"):
            self.assertIn(model, scenarios)
        for name, entry in scenarios.items():
            if name != "ring_mpi":  # built only where CMake found MPI
                self.assertTrue(entry["built"], f"{entry['program']} is not built")
        self.assertTrue(scenarios["ring_mpi"]["mpirun"])
        table = self.tour("--list").stdout
        self.assertEqual(len(table.splitlines()), len(scenarios))

    @unittest.skipUnless(WITH_EXAMPLES, "the examples are not built (CONDUIT_BUILD_EXAMPLES=OFF)")
    def test_tour_runs_the_scenarios_named(self):
        done = self.tour("signal", "pipe")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("== pipe: Pipes between parent and child", done.stdout)
        self.assertIn("== signal: A signal carrying a tiny message", done.stdout)
        self.assertLess(done.stdout.index("== pipe"), done.stdout.index("== signal"),
                        "in teaching order")
        self.assertIn("tour: 2 scenarios ran, 0 failed", done.stdout)
        self.assertEqual(self.tour("no_such_scenario").returncode, 2)
        self.assertEqual(self.tour("pipe", "--json").returncode, 2, "--json lists: needs --list")
        self.assertEqual(self.tour("pipe", "--timeout", "soon").returncode, 2)

    def fake_examples(self, programs):
        """An examples directory of shell scripts standing in for the example programs."""
        folder = tempfile.mkdtemp(prefix="conduit-fake-examples.")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        for name, body in programs.items():
            path = os.path.join(folder, name)
            with open(path, "w") as script:
                script.write("#!/bin/sh\n" + body + "\n")
            os.chmod(path, 0o755)
        return folder

    def test_tour_counts_failures_and_exits_non_zero(self):
        folder = self.fake_examples({"pipe": "echo piped; exit 3", "sockets": "echo fine"})
        done = self.tour("pipe", "fifo", "sockets", "--examples", folder)
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("piped", done.stdout)
        self.assertIn("!! pipe exited with 3", done.stdout)
        self.assertIn("fifo is not built", done.stdout)
        self.assertIn("tour: 3 scenarios ran, 2 failed (pipe, fifo)", done.stdout)

    def test_tour_stops_a_scenario_that_hangs_with_everything_it_started(self):
        marker = os.path.join(self.namespace, "grandchild.pid")
        folder = self.fake_examples({"pipe": f"sleep 600 & echo $! > {marker}; wait"})
        done = self.tour("pipe", "--examples", folder, "--timeout", "1s")
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("!! pipe ran longer than 1s: stopped", done.stdout)
        with open(marker) as f:
            grandchild = int(f.read())

        def gone():
            try:
                with open(f"/proc/{grandchild}/stat") as stat:
                    return stat.read().split(") ")[1].startswith("Z")  # a zombie is dead
            except FileNotFoundError:
                return True
        self.wait_for(gone, "the scenario's own child is killed too")

    def test_tour_interrupted_stops_the_scenario_and_says_so(self):
        marker = os.path.join(self.namespace, "started")
        folder = self.fake_examples({"pipe": f"touch {marker}; sleep 600"})
        tour = subprocess.Popen([CONDUIT, "tour", "pipe", "--examples", folder], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.wait_for(lambda: os.path.exists(marker), "the scenario starts")
        tour.send_signal(signal.SIGINT)  # as Ctrl-C would
        out, _ = tour.communicate(timeout=30)
        self.assertEqual(tour.returncode, 130, out)
        self.assertIn("tour: interrupted during pipe", out)

    def test_tour_says_when_mpi_is_skipped(self):
        env = dict(self.env, PATH="/nonexistent")
        done = self.tour("ring_mpi", env=env)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("skipped: mpirun not found", done.stdout)
        self.assertIn("0 scenarios ran, 0 failed, 1 skipped (ring_mpi)", done.stdout)

    # Tab completion: the script offers what the binary accepts.

    def complete(self, *words):
        line = " ".join(shlex.quote(w) for w in (CONDUIT, *words))
        script = (f"source {shlex.quote(COMPLETION)}; COMP_WORDS=({line}); "
                  f"COMP_CWORD={len(words)}; _conduit; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        done = subprocess.run(["bash", "-c", script], env=self.env, capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        return set(done.stdout.split())

    def test_completion_offers_every_verb_and_every_option(self):
        help_text = self.run_conduit("--help").stdout
        for verb in VERBS:
            self.assertRegex(help_text, rf"\n\s+{verb}\s", f"{verb} is a verb")
        self.assertEqual(self.complete("").intersection(VERBS), set(VERBS))
        for verb in VERBS:
            shown = self.run_conduit(verb, "--help").stdout
            options = set(re.findall(r"^\s+(?:-\w,)?(--[a-z][a-z-]*)", shown, re.M)) - {"--help"}
            offered = self.complete(verb, "--")
            self.assertEqual(options - offered, set(), f"conduit {verb}: options not completed")
            self.assertEqual(offered - options - {"--help"}, set(),
                             f"conduit {verb}: completes options it does not have")

    def test_completion_offers_object_names_values_and_scenarios(self):
        self.make_mailbox("jobs")
        self.make_mailbox("journal")
        self.assertEqual(self.complete("stat", "jo"), {"jobs", "journal"})
        self.assertEqual(self.complete("recv", "job"), {"jobs"})
        self.assertEqual(self.complete("create", "x", "--receivers", "b"), {"broadcast"})
        self.assertEqual(self.complete("create", "x", "--lifetime", ""), {"system", "process"})
        self.assertEqual(self.complete("tour", "sig"), {"signal"})
        self.assertEqual(self.complete("tour", "ring"), {"ring_local", "ring_mpi"})

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
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--completion", required=True)
    parser.add_argument("--with-examples", action="store_true")
    args, rest = parser.parse_known_args()
    CONDUIT = os.path.abspath(args.conduit)
    FIXTURE = os.path.abspath(args.fixture)
    COMPLETION = os.path.abspath(args.completion)
    unittest.main(argv=[sys.argv[0], *rest])
