"""End-to-end fixtures: a real `kotak serve` on loopback ports chosen by the
kernel (port 0), in a temporary data directory, driven by real clients."""

import os
import re
import signal
import smtplib
import subprocess
import tempfile
import time

import pytest

KOTAK = os.environ.get("KOTAK_BIN") or os.path.expanduser("~/.cache/kotak/target/debug/kotak")


# The fields the LMTP server puts in front of every delivered message.
TRACE_FIELDS = re.compile(rb"\AReturn-Path: <[^>\r\n]*>\r?\nReceived: from [^\r\n]*(?:\r?\n\t[^\r\n]*)*\r?\n")


def strip_trace(stored: bytes) -> bytes:
    """A message as it was delivered over LMTP: the Return-Path and Received
    fields the server added are checked and cut off."""
    found = TRACE_FIELDS.match(stored)
    assert found, f"no trace fields in front: {stored[:200]!r}"
    return stored[found.end():]


def kotak(*args, check=True):
    """Runs the kotak binary and returns its stdout."""
    p = subprocess.run([KOTAK, *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"kotak {' '.join(args)} failed: {p.stderr}")
    return p


class Node:
    """One running `kotak serve` process."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.proc = None
        self.ports = {}

    def start(self, protocols=("imap", "lmtp"), config=None):
        args = [KOTAK, "serve", "--data-dir", self.data_dir]
        if config:
            args += ["--config", config]
        for p in protocols:
            args += ["--listen", f"{p}=127.0.0.1:0"]
        self.log = open(os.path.join(self.data_dir, "serve.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.time() + 60
        while len(self.ports) < len(protocols):
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("kotak serve exited: see " + self.log.name)
            m = re.match(r"listening (\w+) 127\.0\.0\.1:(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))
            assert time.time() < deadline, "kotak serve did not start"
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise AssertionError("kotak serve did not stop on SIGTERM")
            assert code == 0, f"kotak serve exited with {code}"
        self.proc = None
        self.ports = {}

    def add_account(self, address, password):
        kotak("account", "add", address, "--password", password, "--data-dir", self.data_dir)

    def deliver(self, sender, recipients, message: bytes):
        """Delivers over LMTP; returns smtplib's refused-recipients dict."""
        with smtplib.LMTP("127.0.0.1", self.ports["lmtp"], timeout=30) as c:
            return c.sendmail(sender, recipients, message)


@pytest.fixture
def node():
    with tempfile.TemporaryDirectory(prefix="kotak-test-") as d:
        n = Node(d)
        n.start()
        try:
            yield n
        finally:
            n.stop()


def make_message(i, extra=b""):
    """A small, distinct message with CRLF line ends."""
    return (
        b"From: Ana Example <ana@example.org>\r\n"
        b"To: user@kotak.test\r\n"
        + f"Subject: test message {i}\r\n".encode()
        + f"Message-ID: <m{i}@example.org>\r\n".encode()
        + b"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
        b"\r\n"
        + f"Body of message {i}.\r\n".encode()
        + b".leading dot line\r\n"
        + extra
    )
