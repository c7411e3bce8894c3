"""Real mail clients for tests/topology.rs (nodes in network namespaces
behind routing proxies): Python's smtplib (LMTP), imaplib and poplib, and
the curl, mbsync and fetchmail binaries. One action per run, printing one
JSON line; message bytes travel base64-encoded."""

import base64
import glob
import imaplib
import json
import os
import poplib
import subprocess
import sys

import clients  # the sibling script, for LMTP delivery


def b64(data):
    return base64.b64encode(data).decode()


def deliver(host, port, sender, recipients):
    """LMTP delivery to a node in its namespace (see clients.deliver)."""
    return {"refused": clients.deliver(port, sender, recipients, host=host)}


def imap_fetch(host, port, user, password):
    """LOGIN, SELECT INBOX, FETCH every message's BODY.PEEK[]: the bytes."""
    c = imaplib.IMAP4(host, int(port), timeout=30)
    try:
        c.login(user, password)
    except imaplib.IMAP4.error as e:
        return {"error": str(e)}
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK", (typ, data)
    count = int(data[0])
    bodies = []
    if count:
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK", (typ, data)
        bodies = [b64(part[1]) for part in data if isinstance(part, tuple)]
    c.logout()
    return {"messages": count, "bodies": bodies}


def pop3_retr(host, port, user, password):
    """USER, PASS, STAT, RETR each message: the bytes (CRLF line ends)."""
    c = poplib.POP3(host, int(port), timeout=30)
    try:
        c.user(user)
        c.pass_(password)
    except poplib.error_proto as e:
        return {"error": e.args[0].decode()}
    count, _ = c.stat()
    bodies = []
    for i in range(1, count + 1):
        _, lines, _ = c.retr(i)
        bodies.append(b64(b"".join(line + b"\r\n" for line in lines)))
    c.quit()
    return {"messages": count, "bodies": bodies}


def curl(port, user, password):
    """curl's IMAP: the message with UID 1 of INBOX."""
    out = subprocess.run(
        ["curl", "-s", "-S", "--max-time", "20", f"imap://127.0.0.1:{port}/INBOX;UID=1", "-u", f"{user}:{password}"],
        capture_output=True,
    )
    if out.returncode != 0:
        return {"error": f"curl exit {out.returncode}: {out.stderr.decode(errors='replace')}"}
    return {"bodies": [b64(out.stdout)]}


def mbsync(port, user, password, workdir):
    """mbsync pulling INBOX into a local Maildir: the files' bytes."""
    os.makedirs(workdir)
    root = os.path.join(workdir, "mail") + "/"
    os.makedirs(root)
    rc = os.path.join(workdir, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(f"""IMAPAccount proxy
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account proxy

MaildirStore local
Path {root}
Inbox {root}INBOX

Channel pull
Far :remote:
Near :local:
Patterns INBOX
Sync Pull
Create Near
SyncState *
""")
    out = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, timeout=30)
    if out.returncode != 0:
        return {"error": f"mbsync exit {out.returncode}: {out.stdout.decode(errors='replace')} {out.stderr.decode(errors='replace')}"}
    bodies = []
    for path in sorted(glob.glob(os.path.join(root, "INBOX", "new", "*")) + glob.glob(os.path.join(root, "INBOX", "cur", "*"))):
        with open(path, "rb") as f:
            bodies.append(b64(f.read()))
    return {"bodies": bodies}


def fetchmail(port, user, password, workdir):
    """fetchmail over POP3 (keeping the mail), handing each message to an
    MDA that writes it to a file: the files' bytes."""
    os.makedirs(workdir)
    out_dir = os.path.join(workdir, "out")
    os.makedirs(out_dir)
    rc = os.path.join(workdir, "fetchmailrc")
    # No TLS (sslproto ''), no Received: line of fetchmail's own (invisible).
    with open(rc, "w") as f:
        f.write(f"""set no syslog
poll 127.0.0.1 protocol pop3 service {port} timeout 20
    user "{user}" password "{password}" is "root" here
    sslproto '' keep fetchall
    mda "/bin/sh -c 'cat > {out_dir}/msg.$$'"
""")
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=workdir, FETCHMAILHOME=workdir)
    out = subprocess.run(
        ["fetchmail", "-f", rc, "--invisible", "--nodetach", "--pidfile", os.path.join(workdir, "pid")],
        capture_output=True, env=env, timeout=30,
    )
    # 0: mail fetched; 1: no mail.
    if out.returncode not in (0, 1):
        return {"error": f"fetchmail exit {out.returncode}: {out.stdout.decode(errors='replace')} {out.stderr.decode(errors='replace')}"}
    bodies = []
    for path in sorted(glob.glob(os.path.join(out_dir, "msg.*"))):
        with open(path, "rb") as f:
            bodies.append(b64(f.read()))
    return {"bodies": bodies}


if __name__ == "__main__":
    action, args = sys.argv[1], sys.argv[2:]
    actions = {
        "deliver": lambda: deliver(args[0], args[1], args[2], args[3:]),
        "imap-fetch": lambda: imap_fetch(*args),
        "pop3-retr": lambda: pop3_retr(*args),
        "curl": lambda: curl(*args),
        "mbsync": lambda: mbsync(*args),
        "fetchmail": lambda: fetchmail(*args),
    }
    if action not in actions:
        raise SystemExit(f"unknown action {action}")
    print(json.dumps(actions[action]()))
