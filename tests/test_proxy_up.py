"""`kotak up`, the whole topology on one machine, driven by real clients
through its proxy: imaplib over STARTTLS and implicit TLS, poplib over STLS
and pop3s, curl; each demo account's mail delivered on its home node and
read through the one public address; IDLE and post-login capabilities
passed through; a node refusing another node's account with a referral."""

import imaplib
import os
import poplib
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import KOTAK, make_message, strip_trace

NODES = 3


class Up:
    """One running `kotak up` and what it printed."""

    def __init__(self, directory):
        self.listeners = {}  # (role, proto) -> (host, port)
        self.accounts = []  # (address, password, home)
        topology = os.path.join(directory, "topology.toml")
        with open(topology, "w") as f:
            f.write(
                f'data_dir = "{directory}/data"\n'
                f"nodes = {NODES}\n"
                "demo_accounts = 6\n"
                "[proxy]\n"
                'imap = "127.0.0.1:0"\nimaps = "127.0.0.1:0"\n'
                'pop3 = "127.0.0.1:0"\npop3s = "127.0.0.1:0"\n'
                "[mx]\n"
                'smtp = "127.0.0.1:0"\n'
            )
        self.log = open(os.path.join(directory, "up.log"), "ab")
        started = time.time()
        self.proc = subprocess.Popen([KOTAK, "up", "--config", topology], stdout=subprocess.PIPE, stderr=self.log, text=True)
        while True:
            line = self.proc.stdout.readline()
            assert line, "kotak up exited before ready: see " + self.log.name
            assert time.time() - started < 120, "kotak up not ready in 120 s"
            words = line.split()
            if words[:1] == ["listening"]:
                host, port = words[3].rsplit(":", 1)
                self.listeners[(words[1], words[2])] = (host, int(port))
            elif words[:1] == ["account"]:
                self.accounts.append((words[1], words[2], words[3]))
            elif words == ["ready"]:
                break

    def port(self, role, proto):
        return self.listeners[(role, proto)][1]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    site = Up(str(tmp_path_factory.mktemp("up")))
    try:
        # One message per account, delivered on its home node.
        for i, (address, _, home) in enumerate(site.accounts):
            with smtplib.LMTP("127.0.0.1", site.port(home, "lmtp"), timeout=30) as c:
                c.sendmail("ana@example.org", [address], make_message(i))
        yield site
    finally:
        site.stop()


def insecure():
    """The demo certificate is self-signed."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_up_prints_every_role_and_spreads_accounts(up):
    roles = {role for role, _ in up.listeners}
    assert roles == {"proxy", "mx"} | {f"node{i}" for i in range(1, NODES + 1)}
    for i in range(1, NODES + 1):
        assert {"imap", "pop3", "lmtp"} <= {p for r, p in up.listeners if r == f"node{i}"}
    assert {h for _, _, h in up.accounts} == {f"node{i}" for i in range(1, NODES + 1)}


def test_imap_starttls_and_imaps_through_the_proxy_read_each_home(up):
    for i, (address, password, home) in enumerate(up.accounts):
        if i % 2:
            c = imaplib.IMAP4("127.0.0.1", up.port("proxy", "imap"))
            c.starttls(ssl_context=insecure())
        else:
            c = imaplib.IMAP4_SSL("127.0.0.1", up.port("proxy", "imaps"), ssl_context=insecure())
        c.login(address, password)
        # After login the capabilities are the node's.
        typ, caps = c.capability()
        assert typ == "OK" and b"CONDSTORE" in caps[0], caps
        c.select("INBOX")
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK"
        assert strip_trace(data[0][1]) == make_message(i), home
        c.logout()


def test_pop3_stls_and_pop3s_through_the_proxy(up):
    for i, (address, password, _) in enumerate(up.accounts[:4]):
        if i % 2:
            p = poplib.POP3("127.0.0.1", up.port("proxy", "pop3"), timeout=30)
            p.stls(context=insecure())
        else:
            p = poplib.POP3_SSL("127.0.0.1", up.port("proxy", "pop3s"), context=insecure(), timeout=30)
        p.user(address)
        p.pass_(password)
        count, _ = p.stat()
        assert count == 1
        _, lines, _ = p.retr(1)
        assert strip_trace(b"\r\n".join(lines) + b"\r\n") == make_message(i)
        p.quit()


def test_curl_through_the_proxy_with_starttls(up):
    address, password, _ = up.accounts[0]
    out = subprocess.run(
        ["curl", "-s", "--ssl-reqd", "-k", f"imap://127.0.0.1:{up.port('proxy', 'imap')}/INBOX;UID=1", "-u", f"{address}:{password}"],
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert strip_trace(out.stdout) == make_message(0)


def test_idle_through_the_proxy_sees_new_mail(up):
    address, password, home = up.accounts[1]
    c = imaplib.IMAP4_SSL("127.0.0.1", up.port("proxy", "imaps"), ssl_context=insecure())
    c.login(address, password)
    c.select("INBOX")
    c.send(b"i IDLE\r\n")
    assert c.readline().startswith(b"+")
    with smtplib.LMTP("127.0.0.1", up.port(home, "lmtp"), timeout=30) as lmtp:
        lmtp.sendmail("ana@example.org", [address], make_message(100))
    c.sock.settimeout(20)
    assert re.match(rb"\* \d+ EXISTS", c.readline())
    c.send(b"DONE\r\n")
    while not c.readline().startswith(b"i OK"):
        pass
    c.logout()


def test_a_node_refers_a_login_for_another_nodes_account(up):
    address, password, home = up.accounts[0]
    other = next(r for r, p in up.listeners if r.startswith("node") and r != home)
    with socket.create_connection(("127.0.0.1", up.port(other, "imap")), timeout=20) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(f'a LOGIN "{address}" "{password}"\r\n'.encode())
        answer = f.readline()
    assert answer.startswith(b"a NO [REFERRAL imap://") and f";AUTH=*@{home}/]".encode() in answer, answer


def test_wrong_password_through_the_proxy(up):
    address, _, _ = up.accounts[0]
    c = imaplib.IMAP4("127.0.0.1", up.port("proxy", "imap"))
    c.starttls(ssl_context=insecure())
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login(address, "not the password")


def test_compress_through_the_proxy(up):
    """COMPRESS=DEFLATE (RFC 4978) is the node's: after its OK both
    directions are raw DEFLATE end to end, the proxy only copies bytes."""
    import zlib

    address, password, _ = up.accounts[2]
    with socket.create_connection(("127.0.0.1", up.port("proxy", "imap")), timeout=20) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(f'a LOGIN "{address}" "{password}"\r\n'.encode())
        login = f.readline()
        assert login.startswith(b"a OK [CAPABILITY") and b"COMPRESS=DEFLATE" in login, login
        s.sendall(b"c COMPRESS DEFLATE\r\n")
        assert f.readline().startswith(b"c OK")
        out, into = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
        s.sendall(out.compress(b"s SELECT INBOX\r\n") + out.flush(zlib.Z_SYNC_FLUSH))
        text = b""
        while b"\r\ns OK" not in text:
            data = s.recv(65536)
            assert data, f"closed before the SELECT answer: {text!r}"
            text += into.decompress(data)
        assert b"* 1 EXISTS" in text or b" EXISTS" in text, text


def test_mail_through_the_mx_reaches_each_home(up):
    """SMTP to the MX of `kotak up`: each recipient's copy lands on its own
    home node and is read through the proxy."""
    accounts = up.accounts[:2]
    assert accounts[0][2] != accounts[1][2], "the first two demo accounts live on different nodes"
    msg = (b"From: a@example.org\r\nTo: both\r\nSubject: via the mx\r\n"
           b"Message-ID: <via-mx@example.org>\r\n\r\nhello from outside\r\n")
    with smtplib.SMTP("127.0.0.1", up.port("mx", "smtp"), timeout=30) as c:
        assert c.sendmail("a@example.org", [a for a, _, _ in accounts], msg) == {}
    for address, password, _ in accounts:
        deadline = time.time() + 30
        while True:
            c = imaplib.IMAP4("127.0.0.1", up.port("proxy", "imap"), timeout=30)
            c.login(address, password)
            c.select("INBOX", readonly=True)
            typ, data = c.search(None, "HEADER", "Message-ID", "via-mx@example.org")
            c.logout()
            if data[0].split() or time.time() > deadline:
                break
            time.sleep(0.2)
        assert len(data[0].split()) == 1, address
