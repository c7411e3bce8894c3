#!/usr/bin/env python3
"""PREVIEW (RFC 8970) against the client's alternative, BODY.PEEK[TEXT]<0.200>,
on Kotak and on Dovecot: the same 50 messages APPENDed to each, then
`FETCH 1:50 PREVIEW` and `FETCH 1:50 BODY.PEEK[TEXT]<0.200>` timed.

    python3 benches/compare/preview.py [--kotak BINARY] [--rounds N] [--no-dovecot]

Run as root for Dovecot (Debian's package, started by servers.py). The
messages mix plain text, quoted-printable Latin-1, base64 UTF-8, HTML only,
multipart/alternative and multipart/mixed with a 60 KB attachment. For each
server and item: the first FETCH (Dovecot computes and caches previews on
first use; Kotak stored them at APPEND), then the median of `rounds` more,
in ms per FETCH command of 50 messages and per message."""

import argparse
import base64
import imaplib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import servers  # noqa: E402

COUNT = 50
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua grüße café naïve").split()


def prose(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words))


def wrap(text, width=72):
    lines, line = [], ""
    for w in text.split():
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\r\n".join(lines + [line])


def message(i, rng):
    """Message i of the set, one of six kinds, a few KB of text each."""
    head = f"From: a{i}@bench.test\r\nTo: user1@bench.test\r\nSubject: m{i}\r\nMIME-Version: 1.0\r\n"
    text = wrap(prose(rng, 400 + rng.randrange(800)))
    kind = i % 6
    if kind == 0:
        return head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
    if kind == 1:
        qp = text.encode("latin-1").decode("latin-1")
        qp = "".join(f"={ord(c):02X}" if ord(c) > 126 else c for c in qp)
        return head + "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp + "\r\n"
    if kind == 2:
        b64 = base64.encodebytes(text.encode()).decode().replace("\n", "\r\n")
        return head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64
    html = ("<html><head><style>p { margin: 0 } " + "x" * 2000 + "</style></head><body><p>"
            + text.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>")
    if kind == 3:
        return head + "Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n"
    if kind == 4:
        return (head + "Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                + text + "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--alt--\r\n")
    blob = base64.encodebytes(rng.randbytes(60_000)).decode().replace("\n", "\r\n")
    return (head + "Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + text + "\r\n--mix\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + blob + "--mix--\r\n")


def fill_and_time(name, port, rounds, messages):
    """APPENDs the messages, then times both items; returns rows."""
    address, password = servers.account(1)
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(address, password)
    caps = c.capability()[1][0].decode().split()
    for raw in messages:
        typ, _ = c.append("INBOX", None, None, raw.encode())
        assert typ == "OK", typ
    c.select("INBOX")
    rows = []
    for item in ("PREVIEW", "BODY.PEEK[TEXT]<0.200>"):
        times = []
        for _ in range(rounds + 1):
            start = time.perf_counter()
            typ, data = c.fetch(f"1:{COUNT}", f"({item})")
            times.append((time.perf_counter() - start) * 1000)
            assert typ == "OK", (typ, data)
        first, warm = times[0], statistics.median(times[1:])
        rows.append((name, item, first, warm, warm / COUNT))
    previews = [d for d in c.fetch(f"1:{COUNT}", "(PREVIEW)")[1] if isinstance(d, tuple)]
    c.logout()
    return rows, caps, previews


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kotak", default=os.path.expanduser("~/.cache/kotak/target/release/kotak"))
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--no-dovecot", action="store_true")
    args = ap.parse_args()
    rng = random.Random(8970)
    messages = [message(i, rng) for i in range(COUNT)]
    work = tempfile.mkdtemp(prefix="preview-bench-")
    running = [servers.Kotak(work, args.kotak, 1, 100)]
    if not args.no_dovecot:
        running.append(servers.Dovecot(work, 1, "PLAIN", 0, 100))
    rows, previews = [], []
    try:
        for server in running:
            server.start()
            got, caps, texts = fill_and_time(server.name, server.ports["imap"], args.rounds, messages)
            print(f"{server.name}: PREVIEW in CAPABILITY: {'PREVIEW' in caps}; message 4 (HTML only): {texts[3]!r:.160}", file=sys.stderr)
            rows += got
            previews.append(texts)
    finally:
        for server in running:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if len(previews) == 2:
        same = sum(a == b for a, b in zip(*previews))
        print(f"previews identical on both servers: {same} of {COUNT}", file=sys.stderr)
    print(f"{'server':8} {'item':24} {'first ms':>9} {'median ms':>10} {'ms/msg':>8}")
    for name, item, first, warm, per in rows:
        print(f"{name:8} {item:24} {first:9.2f} {warm:10.2f} {per:8.3f}")


if __name__ == "__main__":
    main()
