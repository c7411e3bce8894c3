"""IMAP over TLS end to end: STARTTLS with imaplib, imaps with curl, old
TLS versions refused, pipelining after STARTTLS discarded, LOGINDISABLED
from the config file, stalled handshakes dropped. The node presents its
self-signed certificate (DATA_DIR/tls/selfsigned.crt), which the clients
trust explicitly."""

import imaplib
import os
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import Node, make_message, strip_trace

USER, PASSWORD = "user@kotak.test", "secret"


def cert_path(node):
    return os.path.join(node.data_dir, "tls", "selfsigned.crt")


def client_context(node, maximum=None):
    ctx = ssl.create_default_context(cafile=cert_path(node))
    if maximum is not None:
        # Let OpenSSL itself offer the old versions, so the server is what refuses them.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = maximum
    return ctx


def start_node(d, protocols=("imap", "lmtp", "imaps"), config=None):
    node = Node(d)
    config_path = None
    if config is not None:
        config_path = os.path.join(d, "kotak.toml")
        with open(config_path, "w") as f:
            f.write(config)
    node.start(protocols, config=config_path)
    node.add_account(USER, PASSWORD)
    return node


@pytest.fixture
def tls_node():
    with tempfile.TemporaryDirectory(prefix="kotak-test-") as d:
        n = start_node(d)
        try:
            yield n
        finally:
            n.stop()


def test_imaplib_starttls(tls_node):
    assert tls_node.deliver("ana@example.org", [USER], make_message(1)) == {}
    c = imaplib.IMAP4("127.0.0.1", tls_node.ports["imap"], timeout=30)
    assert {"STARTTLS", "AUTH=PLAIN", "COMPRESS=DEFLATE"} <= set(c.capabilities)
    assert "LOGINDISABLED" not in c.capabilities
    typ, _ = c.starttls(ssl_context=client_context(tls_node))
    assert typ == "OK"
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    # imaplib asked again over TLS: STARTTLS is no longer offered.
    assert "STARTTLS" not in c.capabilities and "AUTH=PLAIN" in c.capabilities
    typ, data = c.capability()
    assert b"STARTTLS" not in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        c._simple_command("STARTTLS")  # a second STARTTLS is BAD
    c.login(USER, PASSWORD)
    assert c.select("INBOX") == ("OK", [b"1"])
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    assert strip_trace(data[0][1]) == make_message(1)
    c.logout()


def test_self_signed_certificate_is_logged(tls_node):
    with open(os.path.join(tls_node.data_dir, "serve.log")) as f:
        log = f.read()
    assert "self-signed certificate" in log
    assert os.path.exists(cert_path(tls_node))


def test_curl_imaps_and_starttls(tls_node):
    message = make_message(7)
    assert tls_node.deliver("ana@example.org", [USER], message) == {}
    common = ["curl", "-sS", "--max-time", "30", "--cacert", cert_path(tls_node), "-u", f"{USER}:{PASSWORD}"]
    imaps = subprocess.run(
        common + [f"imaps://127.0.0.1:{tls_node.ports['imaps']}/INBOX;UID=1"], capture_output=True, timeout=60
    )
    assert imaps.returncode == 0, imaps.stderr
    assert strip_trace(imaps.stdout) == message
    starttls = subprocess.run(
        common + ["--ssl-reqd", f"imap://127.0.0.1:{tls_node.ports['imap']}/INBOX;UID=1"],
        capture_output=True,
        timeout=60,
    )
    assert starttls.returncode == 0, starttls.stderr
    assert strip_trace(starttls.stdout) == message
    # Without trusting the self-signed certificate, curl refuses it.
    untrusted = subprocess.run(
        ["curl", "-sS", "--max-time", "30", "-u", f"{USER}:{PASSWORD}",
         f"imaps://127.0.0.1:{tls_node.ports['imaps']}/INBOX;UID=1"],
        capture_output=True,
        timeout=60,
    )
    assert untrusted.returncode != 0


def read_line(sock):
    """One line, read byte by byte so nothing after it is consumed."""
    line = b""
    while not line.endswith(b"\r\n"):
        b = sock.recv(1)
        assert b, f"connection closed after {line!r}"
        line += b
    return line


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["tls1.0", "tls1.1"])
def test_old_tls_versions_are_refused(tls_node, maximum):
    old = client_context(tls_node, maximum=maximum)
    # imaps
    with socket.create_connection(("127.0.0.1", tls_node.ports["imaps"]), timeout=30) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            old.wrap_socket(raw, server_hostname="127.0.0.1")
    assert "ALERT" in str(refused.value).upper(), f"refused by the server, not locally: {refused.value}"
    # STARTTLS
    with socket.create_connection(("127.0.0.1", tls_node.ports["imap"]), timeout=30) as raw:
        assert read_line(raw).startswith(b"* OK")
        raw.sendall(b"a STARTTLS\r\n")
        assert read_line(raw).startswith(b"a OK")
        with pytest.raises(ssl.SSLError):
            old.wrap_socket(raw, server_hostname="127.0.0.1")
    # The same client allowed TLS 1.2 gets in.
    with socket.create_connection(("127.0.0.1", tls_node.ports["imaps"]), timeout=30) as raw:
        with client_context(tls_node).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            assert read_line(tls).startswith(b"* OK [CAPABILITY IMAP4rev1")


def test_commands_pipelined_after_starttls_are_discarded(tls_node):
    with socket.create_connection(("127.0.0.1", tls_node.ports["imap"]), timeout=30) as raw:
        assert read_line(raw).startswith(b"* OK")
        raw.sendall(f"a STARTTLS\r\nb LOGIN {USER} {PASSWORD}\r\n".encode())
        assert read_line(raw).startswith(b"a OK")
        # Nothing follows the OK in clear text (no answer to b)...
        raw.settimeout(0.5)
        with pytest.raises(socket.timeout):
            raw.recv(1, socket.MSG_PEEK)
        raw.settimeout(30)
        with client_context(tls_node).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            # ...nor through TLS, and b's LOGIN did not happen.
            tls.sendall(b"c SELECT INBOX\r\nd NOOP\r\n")
            lines = [read_line(tls), read_line(tls)]
            assert lines[0].startswith(b"c BAD"), lines
            assert lines[1] == b"d OK NOOP completed\r\n", lines


def test_logindisabled_until_starttls():
    with tempfile.TemporaryDirectory(prefix="kotak-test-") as d:
        node = start_node(d, config="plaintext_auth = false\n")
        try:
            c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
            assert {"LOGINDISABLED", "STARTTLS"} <= set(c.capabilities)
            assert "AUTH=PLAIN" not in c.capabilities
            with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
                c.login(USER, PASSWORD)
            c.starttls(ssl_context=client_context(node))
            assert "LOGINDISABLED" not in c.capabilities and "AUTH=PLAIN" in c.capabilities
            assert c.login(USER, PASSWORD)[0] == "OK"
            c.logout()
            # imaps is encrypted from the start: logins are allowed at once.
            s = imaplib.IMAP4_SSL("127.0.0.1", node.ports["imaps"], ssl_context=client_context(node), timeout=30)
            assert "LOGINDISABLED" not in s.capabilities
            assert s.login(USER, PASSWORD)[0] == "OK"
            s.logout()
        finally:
            node.stop()


def test_stalled_handshake_is_dropped_and_frees_its_slot():
    config = "max_connections = 1\n[tls]\nhandshake_timeout_secs = 1\n"
    with tempfile.TemporaryDirectory(prefix="kotak-test-") as d:
        node = start_node(d, config=config)
        try:
            staller = socket.create_connection(("127.0.0.1", node.ports["imaps"]), timeout=30)
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", node.ports["imaps"]), timeout=30) as raw:
                with client_context(node).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    assert read_line(tls).startswith(b"* OK")
            waited = time.monotonic() - started
            assert 0.5 <= waited < 15, waited
            assert staller.recv(1) == b"", "the stalled client was disconnected"
            staller.close()
        finally:
            node.stop()
