#!/usr/bin/env python3
"""The IMAP extensions of issue 17 against Dovecot: the same commands on the
same messages sent to Kotak and to Dovecot (Debian's 2.3, started by
servers.py), and their answers shown side by side, command by command, with
what differs marked. Values that must differ between two servers
(UIDVALIDITY, dates of saving, server names) are masked first.

    python3 benches/compare/ext_diff.py [--kotak BINARY]

Run as root (Dovecot). Exit status 0; read the `DIFFERS` lines."""

import argparse
import os
import re
import shutil
import socket
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import servers  # noqa: E402


def message(i, subject, refs=None, date="Sat, 28 Nov 2026 10:00:00 +0000"):
    head = (f"From: Sender {i} <s{i}@example.org>\r\nTo: user1@bench.test\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: <m{i}@example.org>\r\n")
    if refs:
        head += f"In-Reply-To: <{refs}>\r\nReferences: <{refs}>\r\n"
    return (head + "\r\nHello number %d, some text for the preview.\r\n" % i).encode()


MESSAGES = [
    message(1, "apple"),
    message(2, "Re: apple", refs="m1@example.org", date="Sun, 29 Nov 2026 10:00:00 +0000"),
    message(3, "banana", date="Fri, 27 Nov 2026 10:00:00 +0000"),
    message(4, "Re: banana", refs="m3@example.org", date="Mon, 30 Nov 2026 10:00:00 +0000"),
    message(5, "cherry", date="Thu, 26 Nov 2026 10:00:00 +0000"),
]


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")
        self.file.readline()
        self.n = 0

    def command(self, text, literals=()):
        """Sends `text` with `{}` placeholders filled by LITERAL+ literals."""
        self.n += 1
        tag = f"t{self.n}"
        parts = text.split("{}")
        data = (tag + " " + parts[0]).encode()
        for lit, rest in zip(literals, parts[1:]):
            data += b"{%d+}\r\n" % len(lit) + lit + rest.encode()
        self.sock.sendall(data + b"\r\n")
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                lines.append("<closed>")
                return lines
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                line = line + self.file.read(int(m.group(1))) + self.file.readline()
            text_line = line.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(re.sub(r"^" + tag + " ", "T ", text_line))
            if line.startswith(tag.encode() + b" "):
                return lines


def mask(line):
    line = re.sub(r"UIDVALIDITY \d+", "UIDVALIDITY n", line)
    line = re.sub(r"APPENDUID \d+", "APPENDUID n", line)
    line = re.sub(r"SAVEDATE \"[^\"]*\"", "SAVEDATE \"date\"", line)
    line = re.sub(r"HIGHESTMODSEQ \d+", "HIGHESTMODSEQ n", line)
    line = re.sub(r"MODSEQ \(\d+\)", "MODSEQ (n)", line)
    line = re.sub(r"^T (OK|NO|BAD) (\[[^\]]*\] )?.*$", lambda m: f"T {m.group(1)} {m.group(2) or ''}".rstrip(), line)
    line = re.sub(r"\[CAPABILITY [^\]]*\]", "[CAPABILITY ...]", line)
    # Human text after a status and its code is each server's own.
    line = re.sub(r"^\* (OK|NO|BAD|BYE) (\[[^\]]*\])?.*$", lambda m: f"* {m.group(1)} {m.group(2) or ''}".rstrip(), line)
    return line


def transcript(port, user, password):
    c = Client(port)
    steps = [(f'LOGIN "{user}" "{password}"', ())]
    steps += [("APPEND INBOX " + " ".join("{}" for _ in MESSAGES), MESSAGES)]  # MULTIAPPEND
    steps += [
        ("SELECT INBOX", ()),
        ("UID SORT RETURN (MIN MAX ALL COUNT) (SUBJECT) UTF-8 ALL", ()),
        ("SORT RETURN (COUNT) (DATE) UTF-8 ALL", ()),
        ("SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL", ()),
        ("UID SEARCH YOUNGER 3600", ()),
        ("UID SEARCH OLDER 3600", ()),
        ("SEARCH SAVEDATESUPPORTED", ()),
        ("SEARCH SAVEDSINCE 1-Jan-2000", ()),
        ("FETCH 1 (SAVEDATE)", ()),
        ("UID THREAD REFS UTF-8 ALL", ()),
        ("UID THREAD REFERENCES UTF-8 ALL", ()),
        ("FETCH 1:5 (PREVIEW)", ()),
        ("SEARCH RETURN (PARTIAL 1:2) ALL", ()),
        # A flat name: the hierarchy separators differ ("/" here, "." in
        # Dovecot's default layout).
        ("CREATE fruit", ()),
        ('LIST "" "fruit"', ()),
        ('APPEND fruit CATENATE (URL "/INBOX;UIDVALIDITY=0/;UID=1" TEXT {})', (b"\r\n",)),
        ('APPEND fruit CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER" TEXT {})', (b"\r\nA new body.\r\n",)),
        ('APPEND fruit CATENATE (URL "/INBOX/;UID=99" TEXT {})', (b"\r\n",)),
        ("APPEND INBOX ~{}", (b"Subject: nul\r\n\r\nbinary \x00 here\r\n",)),
        ('SEARCH RETURN (UPDATE COUNT) SUBJECT apple', ()),
        ('CANCELUPDATE "t22"', ()),
        ("NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge))", ()),
        ("NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))", ()),
        ("NOTIFY SET (personal (AnnotationChange))", ()),
        ("NOTIFY NONE", ()),
        ("LOGOUT", ()),
    ]
    out = []
    for text, lits in steps:
        # `~{}` is a literal8: send it by hand.
        if "~{}" in text:
            lit = lits[0]
            c.n += 1
            tag = f"t{c.n}"
            c.sock.sendall(f"{tag} {text.replace('~{}', '')}".encode() + b"~{%d+}\r\n" % len(lit) + lit + b"\r\n")
            lines = []
            while True:
                line = c.file.readline().decode("utf-8", "replace").rstrip("\r\n")
                lines.append(re.sub("^" + tag + " ", "T ", line))
                if line.startswith(tag + " ") or not line:
                    break
            out.append((text, [mask(x) for x in lines]))
            continue
        out.append((text, [mask(x) for x in c.command(text, lits)]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kotak", default=os.path.expanduser("~/.cache/kotak/target/release/kotak"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ext-diff-")
    running = [servers.Kotak(work, args.kotak, 1, 100), servers.Dovecot(work, 1, "PLAIN", 0, 100)]
    results = []
    try:
        for server in running:
            server.start()
            user, password = servers.account(1)
            results.append(transcript(server.ports["imap"], user, password))
    finally:
        for server in running:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    differ = 0
    for (cmd, kotak), (_, dovecot) in zip(*results):
        same = kotak == dovecot
        differ += not same
        print(f"{'same   ' if same else 'DIFFERS'} C: {cmd[:100]}")
        if not same:
            for line in kotak:
                print(f"          kotak:   {line[:160]}")
            for line in dovecot:
                print(f"          dovecot: {line[:160]}")
    print(f"\n{differ} of {len(results[0])} commands answered differently")


if __name__ == "__main__":
    main()
