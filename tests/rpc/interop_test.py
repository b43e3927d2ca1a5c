#!/usr/bin/env python3
"""conduit's msgpack-rpc against an independent implementation: Python's msgpack.

A conduit server (rpc_peer serve) is called by raw msgpack-rpc written here, over a Unix socket
and over TCP; a small Python server answers the conduit client (rpc_peer call).
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

import msgpack

PEER = None
TIMEOUT = 30


class RawClient:
    """msgpack-rpc written by hand over a socket."""

    def __init__(self, url):
        if url.startswith("unix://"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(url[len("unix://"):])
        else:
            host, port = url[len("tcp://"):].rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)))
        self.sock.settimeout(TIMEOUT)
        self.unpacker = msgpack.Unpacker(raw=False)

    def send(self, data):
        self.sock.sendall(data)

    def next(self):
        while True:
            for message in self.unpacker:
                return message
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.unpacker.feed(chunk)

    def close(self):
        self.sock.close()


class ConduitServer:
    """Python calls the conduit server (a mixin: one TestCase per scheme below)."""

    scheme = None

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        env = dict(os.environ, CONDUIT_NAMESPACE=os.path.join(self.dir.name, "ns"))
        url = ("unix://" + os.path.join(self.dir.name, "rpc.sock")
               if self.scheme == "unix" else "tcp://127.0.0.1:0")
        self.server = subprocess.Popen([PEER, "serve", url], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, env=env, text=True)
        self.url = self.server.stdout.readline().strip()
        self.assertTrue(self.url, "the server printed no URL")

    def tearDown(self):
        self.server.stdin.close()
        self.assertEqual(self.server.wait(TIMEOUT), 0)
        self.dir.cleanup()

    def test_requests_pipelined_in_one_write(self):
        client = RawClient(self.url)
        client.send(msgpack.packb([0, 1, "add", [1, 2]]) +
                    msgpack.packb([0, 2, "concat", ["con", "duit"]]))
        answers = {}
        for _ in range(2):
            kind, msgid, error, result = client.next()
            self.assertEqual(kind, 1)
            self.assertIsNone(error)
            answers[msgid] = result
        self.assertEqual(answers, {1: 3, 2: "conduit"})
        client.close()

    def test_request_split_byte_by_byte(self):
        client = RawClient(self.url)
        for byte in msgpack.packb([0, 7, "add", [20, 22]]):
            client.send(bytes([byte]))
        self.assertEqual(client.next(), [1, 7, None, 42])
        client.close()

    def test_errors_are_responses(self):
        client = RawClient(self.url)
        client.send(msgpack.packb([0, 1, "fail", ["broken on purpose"]]))
        kind, msgid, error, result = client.next()
        self.assertEqual((kind, msgid, result), (1, 1, None))
        self.assertIn("broken on purpose", error)
        client.send(msgpack.packb([0, 2, "nope", []]))
        self.assertIn("unknown method 'nope'", client.next()[2])
        client.send(msgpack.packb([0, 3, "add", [1]]))
        self.assertIn("expects 2 argument(s), got 1", client.next()[2])
        client.send(msgpack.packb([0, 4, "add", ["x", 1]]))
        self.assertIn("argument 1 has the wrong type", client.next()[2])
        client.close()

    def test_notification_then_call(self):
        client = RawClient(self.url)
        client.send(msgpack.packb([2, "record", [17]]))
        client.send(msgpack.packb([0, 5, "recorded", []]))
        self.assertEqual(client.next(), [1, 5, None, 17])
        client.close()

    def test_malformed_bytes_close_only_that_connection(self):
        good = RawClient(self.url)
        bad = RawClient(self.url)
        bad.send(b"\x94\xc1\xc1\xc1")
        self.assertIsNone(bad.next(), "the server should close a malformed connection")
        good.send(msgpack.packb([0, 1, "add", [2, 3]]))
        self.assertEqual(good.next(), [1, 1, None, 5])
        good.close()
        bad.close()


class ConduitServerUnix(ConduitServer, unittest.TestCase):
    scheme = "unix"


class ConduitServerTcp(ConduitServer, unittest.TestCase):
    scheme = "tcp"


class PythonServer:
    """A small msgpack-rpc server written here: a thread per connection."""

    def __init__(self, listening):
        self.listening = listening
        self.recorded = 0
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while True:
            try:
                conn, _ = self.listening.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def answer(self, method, params):
        if method == "add":
            return None, params[0] + params[1]
        if method == "concat":
            return None, params[0] + params[1]
        if method == "fail":
            return "python says: " + params[0], None
        if method == "recorded":
            return None, self.recorded
        return "unknown method " + method, None

    def serve(self, conn):
        unpacker = msgpack.Unpacker(raw=False)
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                unpacker.feed(chunk)
                for message in unpacker:
                    if message[0] == 2 and message[1] == "record":
                        self.recorded = message[2][0]
                    elif message[0] == 0:
                        error, result = self.answer(message[2], message[3])
                        conn.sendall(msgpack.packb([1, message[1], error, result]))


class ConduitClient(unittest.TestCase):
    """The conduit client calls a Python server."""

    def run_client(self, url, ns):
        done = subprocess.run([PEER, "call", url], capture_output=True, text=True,
                              timeout=TIMEOUT, env=dict(os.environ, CONDUIT_NAMESPACE=ns))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "ok")

    def test_unix(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "py.sock")
            listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listening.bind(path)
            listening.listen()
            PythonServer(listening)
            self.run_client("unix://" + path, os.path.join(directory, "ns"))
            listening.close()

    def test_tcp(self):
        with tempfile.TemporaryDirectory() as directory:
            listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listening.bind(("127.0.0.1", 0))
            listening.listen()
            PythonServer(listening)
            port = listening.getsockname()[1]
            self.run_client(f"tcp://127.0.0.1:{port}", os.path.join(directory, "ns"))
            listening.close()


def main():
    global PEER
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", required=True)
    args, rest = parser.parse_known_args()
    PEER = args.peer
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
