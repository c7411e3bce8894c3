"""Real synchronising clients in two-way mode: mbsync (isync) and
offlineimap, each between the server and a local Maildir. Flags set and
removed on the server and set locally must arrive on the other side, a
message written locally must be uploaded byte for byte, a message expunged
on the server must leave the Maildir and one deleted locally the server,
and a mailbox with a non-ASCII name must be synchronised too."""

import imaplib
import os
import re
import subprocess
import tempfile

import pytest

from conftest import make_message, strip_trace

USER, PASSWORD = "user@kotak.test", "secret"
# How long one run of a client may take.
CLIENT_TIMEOUT = 120
# A mailbox with a non-ASCII name: "Почта" in modified UTF-7.
CYRILLIC = "&BB8EPgRHBEIEMA-"

# Maildir flag letters and the IMAP flags they stand for.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def imap(node):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    c.login(USER, PASSWORD)
    return c


def subject_of(raw: bytes) -> str:
    m = re.search(rb"^Subject: (.*?)\r?$", raw, re.M)
    return m.group(1).decode() if m else ""


def server_state(node, mailbox="INBOX"):
    """{subject: set of flags} of a mailbox, read with imaplib."""
    c = imap(node)
    typ, data = c.select(f'"{mailbox}"', readonly=True)
    assert typ == "OK", data
    state = {}
    if int(data[0]) > 0:
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
            state[subject_of(item[1])] = set(flags) - {"\\Recent"}
    c.logout()
    return state


def server_store(node, subject, op, flags, mailbox="INBOX"):
    """Runs UID STORE on the message with `subject`."""
    c = imap(node)
    c.select(f'"{mailbox}"')
    typ, data = c.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
    uids = data[0].split()
    assert typ == "OK" and len(uids) == 1, (subject, data)
    assert c.uid("STORE", uids[0].decode(), op, flags)[0] == "OK"
    if "\\Deleted" in flags:
        assert c.expunge()[0] == "OK"
    c.logout()


class Maildir:
    """A Maildir folder as the clients leave it: files in cur/ and new/,
    flags after ':2,' in the file name."""

    def __init__(self, path):
        self.path = path

    def files(self):
        out = []
        for sub in ("cur", "new"):
            d = os.path.join(self.path, sub)
            if os.path.isdir(d):
                out += [os.path.join(d, name) for name in sorted(os.listdir(d))]
        return out

    @staticmethod
    def flags_of(path):
        name = os.path.basename(path)
        return set(name.split(":2,", 1)[1]) if ":2," in name else set()

    def state(self):
        """{subject: set of IMAP flags}; a subject seen twice is a duplicate."""
        state = {}
        for path in self.files():
            with open(path, "rb") as f:
                subject = subject_of(f.read())
            assert subject not in state, f"{subject} is in the Maildir twice"
            state[subject] = {MAILDIR_FLAGS[c] for c in self.flags_of(path) if c in MAILDIR_FLAGS}
        return state

    def contents(self):
        out = {}
        for path in self.files():
            with open(path, "rb") as f:
                raw = f.read()
            out[subject_of(raw)] = raw
        return out

    def add_flag(self, subject, letter):
        """Sets a flag locally the Maildir way: renames the file into cur/
        with the letter added to its (sorted) flags."""
        for path in self.files():
            with open(path, "rb") as f:
                if subject_of(f.read()) != subject:
                    continue
            base = os.path.basename(path).split(":2,", 1)[0]
            letters = "".join(sorted(self.flags_of(path) | {letter}))
            os.rename(path, os.path.join(self.path, "cur", f"{base}:2,{letters}"))
            return
        raise AssertionError(f"{subject} not in {self.path}")

    def delete(self, subject):
        """Deletes a message locally, as a mail program would."""
        for path in self.files():
            with open(path, "rb") as f:
                if subject_of(f.read()) == subject:
                    os.remove(path)
                    return
        raise AssertionError(f"{subject} not in {self.path}")

    def write_new(self, raw, name):
        """Delivers a message locally, as a mail program would."""
        tmp = os.path.join(self.path, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(raw)
        os.rename(tmp, os.path.join(self.path, "new", name))


def deliver(node, n):
    node.add_account(USER, PASSWORD)
    sent = [make_message(i) for i in range(n)]
    for m in sent:
        assert node.deliver("ana@example.org", [USER], m) == {}
    return sent


def lf(raw):
    """Line ends as the clients store them locally."""
    return raw.replace(b"\r\n", b"\n")


def strip_client_headers(raw):
    """Drops the headers the clients add to find their own uploads."""
    return re.sub(rb"^X-(TUID|OfflineIMAP): .*\r?\n", b"", raw, flags=re.M)


def run(args, what):
    p = subprocess.run(args, capture_output=True, timeout=CLIENT_TIMEOUT)
    assert p.returncode == 0, f"{what} failed ({p.returncode}):\n{p.stdout.decode(errors='replace')}\n{p.stderr.decode(errors='replace')}"
    return p


class Mbsync:
    """mbsync in two-way mode (Sync All, expunging on both sides)."""

    def __init__(self, node, d):
        self.root = os.path.join(d, "mail") + "/"
        os.makedirs(self.root)
        self.rc = os.path.join(d, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write(f"""IMAPAccount kotak
Host 127.0.0.1
Port {node.ports['imap']}
User {USER}
Pass {PASSWORD}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account kotak

MaildirStore local
Path {self.root}
Inbox {self.root}INBOX

Channel two-way
Far :remote:
Near :local:
Patterns INBOX {CYRILLIC}
Sync All
Create Near
Expunge Both
SyncState *
""")

    def sync(self):
        run(["mbsync", "-c", self.rc, "-a"], "mbsync")

    def folder(self, name="INBOX"):
        return Maildir(os.path.join(self.root, name))


class OfflineImap:
    """offlineimap, once, into a Maildir tree."""

    def __init__(self, node, d):
        self.root = os.path.join(d, "mail")
        self.rc = os.path.join(d, "offlineimaprc")
        with open(self.rc, "w") as f:
            f.write(f"""[general]
accounts = kotak
metadata = {os.path.join(d, 'metadata')}
maxsyncaccounts = 1

[Account kotak]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {self.root}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {node.ports['imap']}
remoteuser = {USER}
remotepass = {PASSWORD}
ssl = no
starttls = no
folderfilter = lambda name: name in ['INBOX', '{CYRILLIC}']
""")

    def sync(self):
        p = run(["offlineimap", "-c", self.rc, "-o", "-u", "basic"], "offlineimap")
        # offlineimap exits 0 after some errors; it reports them in its log.
        assert b"ERROR" not in p.stdout + p.stderr, (p.stdout + p.stderr).decode(errors="replace")

    def folder(self, name="INBOX"):
        return Maildir(os.path.join(self.root, name))


@pytest.fixture(params=[Mbsync, OfflineImap], ids=["mbsync", "offlineimap"])
def client(request, node):
    with tempfile.TemporaryDirectory() as d:
        yield request.param(node, d)


def test_two_way_sync(node, client):
    sent = deliver(node, 6)
    subjects = [subject_of(m) for m in sent]
    c = imap(node)
    assert c.create(f'"{CYRILLIC}"')[0] == "OK"
    other = make_message(100)
    assert c.append(f'"{CYRILLIC}"', "(\\Flagged)", None, other)[0] == "OK"
    c.logout()
    server_store(node, subjects[5], "+FLAGS", "(\\Answered)")

    client.sync()
    inbox = client.folder()
    assert inbox.state() == {**{s: set() for s in subjects}, subjects[5]: {"\\Answered"}}
    assert {s: strip_trace(lf(strip_client_headers(m))) for s, m in inbox.contents().items()} == {subject_of(m): lf(m) for m in sent}
    assert client.folder(CYRILLIC).state() == {subject_of(other): {"\\Flagged"}}

    # Flags set on each side and removed on the server, a message written
    # locally, one expunged on the server and one deleted locally.
    server_store(node, subjects[0], "+FLAGS", "(\\Seen)")
    inbox.add_flag(subjects[1], "F")
    inbox.add_flag(subjects[2], "S")
    local = make_message(200, extra=b"Written locally.\r\n")
    inbox.write_new(lf(local), "1700000000.local.host")
    server_store(node, subjects[3], "+FLAGS", "(\\Deleted)")
    inbox.delete(subjects[4])
    server_store(node, subjects[5], "-FLAGS", "(\\Answered)")
    client.sync()

    expected = {s: set() for s in subjects if s not in (subjects[3], subjects[4])}
    expected[subjects[0]] = {"\\Seen"}
    expected[subjects[1]] = {"\\Flagged"}
    expected[subjects[2]] = {"\\Seen"}
    expected[subject_of(local)] = set()
    assert server_state(node) == expected, "server side"
    assert inbox.state() == expected, "Maildir side"

    # The uploaded message arrived whole (with CRLF line ends on the server).
    c = imap(node)
    c.select("INBOX", readonly=True)
    typ, data = c.uid("SEARCH", None, "SUBJECT", f'"{subject_of(local)}"')
    typ, data = c.uid("FETCH", data[0].decode(), "(BODY.PEEK[])")
    assert typ == "OK"
    assert strip_client_headers(data[0][1]) == local
    c.logout()

    # A third run changes nothing on either side.
    client.sync()
    assert server_state(node) == expected
    assert inbox.state() == expected
