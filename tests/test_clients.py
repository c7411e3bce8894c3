"""Other real clients: curl's IMAP support and mbsync (isync) into a Maildir."""

import os
import re
import subprocess
import tempfile

from conftest import make_message, strip_trace


def deliver_some(node, n):
    node.add_account("user@kotak.test", "secret")
    sent = [make_message(i, extra=("é line %d\r\n" % i).encode() * (i + 1)) for i in range(n)]
    for m in sent:
        assert node.deliver("ana@example.org", ["user@kotak.test"], m) == {}
    return sent


def test_curl_fetches_each_message(node):
    sent = deliver_some(node, 5)
    for uid, m in enumerate(sent, start=1):
        url = f"imap://127.0.0.1:{node.ports['imap']}/INBOX;UID={uid}"
        out = subprocess.run(
            ["curl", "-s", "--max-time", "30", "--user", "user@kotak.test:secret", url],
            capture_output=True, check=True,
        ).stdout
        assert strip_trace(out) == m
    listing = subprocess.run(
        ["curl", "-s", "--max-time", "30", "--user", "user@kotak.test:secret",
         f"imap://127.0.0.1:{node.ports['imap']}/"],
        capture_output=True, check=True,
    ).stdout
    assert b"INBOX" in listing


def test_mbsync_into_maildir(node):
    sent = deliver_some(node, 12)
    with tempfile.TemporaryDirectory() as d:
        maildir = os.path.join(d, "mail") + "/"
        os.makedirs(maildir)
        rc = os.path.join(d, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount kotak
Host 127.0.0.1
Port {node.ports['imap']}
User user@kotak.test
Pass secret
SSLType None
AuthMechs PLAIN LOGIN

IMAPStore remote
Account kotak

MaildirStore local
Path {maildir}
Inbox {maildir}INBOX

Channel test
Far :remote:
Near :local:
Patterns *
Create Near
SyncState *
""")
        p = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
        got = []
        for sub in ("cur", "new"):
            path = os.path.join(maildir, "INBOX", sub)
            for name in os.listdir(path):
                with open(os.path.join(path, name), "rb") as f:
                    got.append(f.read())
        # mbsync stores LF line ends and adds its X-TUID header; otherwise
        # every message must be exactly what was delivered, after the trace
        # fields the server added.
        got = [strip_trace(re.sub(rb"^X-TUID: .*\n", b"", g, flags=re.M)) for g in got]
        assert sorted(got) == sorted(m.replace(b"\r\n", b"\n") for m in sent)
