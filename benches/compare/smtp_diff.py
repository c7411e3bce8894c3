#!/usr/bin/env python3
"""The same SMTP dialogues sent to Kotak's MX and to Postfix (Debian's, set up
as smtp.py sets it up: the MX of bench.test relaying over LMTP to Dovecot),
side by side: the reply code to each line, and whether the two agree.

Run as root: python3 benches/compare/smtp_diff.py (uses $CARGO_TARGET_DIR/release/kotak
or KOTAK). What differs is printed with both answers; the count of equal dialogues
ends the output. Reply texts differ by design; codes are compared.
"""

import os
import shutil
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp import DovecotNode, KotakMx, Postfix, ensure_packages, log  # noqa: E402

U = "user1@bench.test"
MSG = b"From: a@example.org\r\nTo: " + U.encode() + b"\r\nSubject: diff\r\n\r\nhello\r\n"

# Each dialogue: the byte strings sent one after another; the first line of
# every reply is kept.
DIALOGUES = {
    "plain delivery": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", f"RCPT TO:<{U}>\r\n".encode(),
                       b"DATA\r\n", MSG + b".\r\n", b"QUIT\r\n"],
    "unknown user": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", b"RCPT TO:<nobody@bench.test>\r\n"],
    "relay to another domain": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", b"RCPT TO:<x@other.example>\r\n"],
    "relay with %": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", b"RCPT TO:<x%other.example@bench.test>\r\n"],
    "relay with quoted @": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n",
                            b'RCPT TO:<"x@other.example"@bench.test>\r\n'],
    "RCPT before MAIL": [b"EHLO c.example\r\n", f"RCPT TO:<{U}>\r\n".encode()],
    "DATA without RCPT": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", b"DATA\r\n"],
    "nested MAIL": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", b"MAIL FROM:<b@example.org>\r\n"],
    "unknown command": [b"EHLO c.example\r\n", b"FROBNICATE\r\n"],
    "SIZE over the limit": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org> SIZE=999999999999\r\n"],
    "bad sender syntax": [b"EHLO c.example\r\n", b"MAIL FROM:<a@@b>\r\n"],
    "bare LF dot in DATA": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", f"RCPT TO:<{U}>\r\n".encode(),
                            b"DATA\r\n", b"Subject: x\r\n\r\nhi\n.\nRSET\r\n.\r\n"],
    "BDAT in two chunks": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n", f"RCPT TO:<{U}>\r\n".encode(),
                           b"BDAT 10\r\n" + MSG[:10], b"BDAT %d LAST\r\n" % (len(MSG) - 10) + MSG[10:]],
    "DSN parameters": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org> RET=HDRS ENVID=x1\r\n",
                       f"RCPT TO:<{U}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{U}\r\n".encode()],
    "NOTIFY=NEVER mixed": [b"EHLO c.example\r\n", b"MAIL FROM:<a@example.org>\r\n",
                           f"RCPT TO:<{U}> NOTIFY=NEVER,SUCCESS\r\n".encode()],
    "HELO then VRFY": [b"HELO c.example\r\n", f"VRFY {U}\r\n".encode()],
    "RSET and NOOP": [b"EHLO c.example\r\n", b"RSET\r\n", b"NOOP\r\n"],
    "STARTTLS twice-pipelined": [b"EHLO c.example\r\n", b"STARTTLS\r\nNOOP\r\n"],
}


def dialogue(port, sends):
    """First lines of the replies to `sends`, the greeting first."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            if not line:
                return "(closed)"
            if line[3:4] != b"-":
                return line[:3].decode(errors="replace")

    codes = [reply()]
    for data in sends:
        s.sendall(data)
        codes.append(reply())
        if codes[-1] == "(closed)":
            break
    s.close()
    return codes


def main():
    if os.geteuid() != 0:
        sys.exit("smtp_diff.py: run as root")
    ensure_packages(False)
    kotak = os.environ.get("KOTAK") or os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "kotak")
    work = tempfile.mkdtemp(prefix="kotak-smtp-diff-")
    os.chmod(work, 0o755)
    started = []
    try:
        dovecot = DovecotNode(work, 2, "SHA512-CRYPT", "0", 100)
        dovecot.start()
        started.append(dovecot)
        postfix = Postfix(work, 2, dovecot.ports["lmtp"])
        postfix.start()
        started.append(postfix)
        k = KotakMx(work, kotak, 2)
        k.start()
        started.append(k)
        same = 0
        for name, sends in DIALOGUES.items():
            p, q = dialogue(k.ports["smtp"], sends), dialogue(postfix.port, sends)
            if p == q:
                same += 1
                print(f"same     {name}: {' '.join(p)}")
            else:
                print(f"DIFFERS  {name}: Kotak {' '.join(p)} | Postfix {' '.join(q)}")
        print(f"{same} of {len(DIALOGUES)} dialogues answered with the same codes")
    finally:
        for s in reversed(started):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    log("done")


if __name__ == "__main__":
    main()
