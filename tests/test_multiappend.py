"""MULTIAPPEND (RFC 3502) from a real client: Python's imaplib cannot send
several messages in one APPEND, so the command goes by hand over its socket
(non-synchronizing literals, LITERAL+), as an imapsync-like bulk upload
would; the figures compare it with one APPEND per message."""

import imaplib
import re
import time

from conftest import make_message

USER, PASSWORD = "user@kotak.test", "secret"


def login(node):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=60)
    c.login(USER, PASSWORD)
    return c


def multiappend(c, mailbox, messages, tag=b"M1"):
    """Sends one APPEND carrying every message; returns its tagged line."""
    parts = [tag + b" APPEND " + mailbox.encode()]
    for m in messages:
        parts.append(b" (\\Seen) {%d+}\r\n" % len(m) + m)
    c.send(b"".join(parts) + b"\r\n")
    while True:
        line = c.readline()
        if line.startswith(tag + b" "):
            return line.rstrip(b"\r\n")


def count(c, mailbox):
    typ, data = c.status(mailbox, "(MESSAGES)")
    assert typ == "OK"
    return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))


def test_multiappend_bulk_upload(node):
    node.add_account(USER, PASSWORD)
    c = login(node)
    assert "MULTIAPPEND" in c.capabilities and "CATENATE" in c.capabilities
    sent = [make_message(i) for i in range(1000)]
    start = time.perf_counter()
    done = multiappend(c, "INBOX", sent)
    batch = time.perf_counter() - start
    uidvalidity = re.match(rb"M1 OK \[APPENDUID (\d+) 1:1000\]", done)
    assert uidvalidity, done
    assert count(c, "INBOX") == 1000
    c.select("INBOX", readonly=True)
    for n in (1, 500, 1000):
        typ, data = c.fetch(str(n), "(FLAGS BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == sent[n - 1] and b"\\Seen" in data[0][0]

    # One bad message (a flag no client may set) stores none of the batch.
    bad = [make_message(2000), make_message(2001)]
    c.send(b"M2 APPEND INBOX {%d+}\r\n%s (\\Recent) {%d+}\r\n%s\r\n" % (len(bad[0]), bad[0], len(bad[1]), bad[1]))
    while not (line := c.readline()).startswith(b"M2 "):
        pass
    assert line.startswith(b"M2 BAD"), line
    assert count(c, "INBOX") == 1000

    # The same 1,000 messages, one APPEND each, waiting for each answer
    # (LITERAL+ too, so no continuation round trip: only the writes differ).
    c.create("Single")
    start = time.perf_counter()
    for i, m in enumerate(sent):
        assert multiappend(c, "Single", [m], tag=b"S%d" % i).startswith(b"S%d OK" % i)
    single = time.perf_counter() - start
    assert count(c, "Single") == 1000
    print(f"\nMULTIAPPEND: 1000 messages in {batch:.3f}s ({1000 / batch:.0f} messages/s); "
          f"single APPENDs: {single:.3f}s ({1000 / single:.0f} messages/s)")
    c.logout()
