"""The MX's sender checks end to end: mail signed by dkimpy (PyPI) with a
key whose public half a real DNS server (dnsmasq, started here on a
loopback port) publishes beside SPF and DMARC records passes SPF, DKIM and
DMARC; a forged sender of the same domain is refused by its DMARC policy.
Also an SMTPUTF8 recipient address (an alias with a non-ASCII local part)."""

import base64
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile

import pytest

from conftest import kotak
from test_mx import MxNode, original_of, wait_for

dkim = pytest.importorskip("dkim", reason="dkimpy is not installed (scripts/deps.sh installs it)")

SIGNER = "signer.test"
SELECTOR = "k1"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def txt_strings(value, size=250):
    """A TXT value as dnsmasq's comma-separated strings of at most 255 bytes."""
    return ",".join(value[i:i + size] for i in range(0, len(value), size))


@pytest.fixture(scope="module")
def signed_world():
    if not shutil.which("dnsmasq"):
        pytest.skip("dnsmasq is not installed (scripts/deps.sh installs it)")
    d = tempfile.mkdtemp(prefix="kotak-mxauth-")
    key = os.path.join(d, "dkim.pem")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    public = base64.b64encode(der).decode()
    port = free_port()
    dns = subprocess.Popen([
        "dnsmasq", "--keep-in-foreground", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
        "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--log-facility=-",
        "--user=root", "--group=root", "--local=/test/",
        f"--txt-record={SIGNER},v=spf1 ip4:127.0.0.1 -all",
        f"--txt-record={SELECTOR}._domainkey.{SIGNER},{txt_strings('v=DKIM1; k=rsa; p=' + public)}",
        f"--txt-record=_dmarc.{SIGNER},v=DMARC1; p=reject",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    extra = (
        "\n[mx.filters]\n"
        f'dns_servers = ["127.0.0.1:{port}"]\n'
        "spf = true\ndkim = true\ndmarc = true\ndmarc_reject = true\n"
    )
    n = MxNode(d, extra=extra)
    try:
        kotak("account", "add", "user@kotak.test", "--password", "secret", "--data-dir", d)
        kotak("alias", "add", "jörg@kotak.test", "user@kotak.test", "--data-dir", d)
        n.start()
        with open(key, "rb") as f:
            yield n, f.read()
    finally:
        n.stop()
        dns.terminate()
        dns.wait()
        shutil.rmtree(d, ignore_errors=True)


def signed_message(private_key, i):
    msg = (
        f"From: CEO <ceo@{SIGNER}>\r\nTo: user@kotak.test\r\nSubject: signed {i}\r\n"
        f"Message-ID: <signed{i}@{SIGNER}>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n"
        "The quarterly figures are attached.\r\n"
    ).encode()
    signature = dkim.sign(msg, SELECTOR.encode(), SIGNER.encode(), private_key,
                          include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
    return signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + msg


def test_dkimpy_signed_mail_passes_spf_dkim_and_dmarc(signed_world):
    mx, key = signed_world
    msg = signed_message(key, 1)
    with mx.smtp() as c:
        assert c.sendmail(f"ceo@{SIGNER}", ["user@kotak.test"], msg) == {}
    [stored] = wait_for(mx, "user@kotak.test", f"<signed1@{SIGNER}>".encode())
    assert original_of(stored) == msg
    results = stored[:stored.index(msg)].decode()
    for want in ("spf=pass", "dkim=pass", "dmarc=pass", f"header.from={SIGNER}"):
        assert want in results, results


def test_a_forged_sender_is_refused_by_its_dmarc_policy(signed_world):
    mx, _ = signed_world
    forged = (f"From: CEO <ceo@{SIGNER}>\r\nTo: user@kotak.test\r\nSubject: wire the money\r\n"
              f"Message-ID: <forged@{SIGNER}>\r\n\r\nUrgent.\r\n").encode()
    with mx.smtp() as c:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            c.sendmail("attacker@elsewhere.test", ["user@kotak.test"], forged)
    assert refused.value.smtp_code == 550 and b"5.7.1" in refused.value.smtp_error


def test_smtputf8_recipient_address(signed_world):
    mx, key = signed_world
    msg = signed_message(key, 2)
    with mx.smtp() as c:
        c.ehlo("client.example.org")
        assert c.sendmail(f"ceo@{SIGNER}", ["jörg@kotak.test"], msg, mail_options=["SMTPUTF8"]) == {}
    assert wait_for(mx, "user@kotak.test", f"<signed2@{SIGNER}>".encode())
