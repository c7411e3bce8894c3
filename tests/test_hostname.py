"""The `hostname` of the config file is the name LMTP gives: in its greeting,
its LHLO reply and the `Received: by` field of every message it stores."""

import imaplib
import os
import smtplib
import tempfile

from conftest import Node, make_message

HOSTNAME = "mx1.kotak.test"


def test_lmtp_uses_the_configured_hostname():
    with tempfile.TemporaryDirectory(prefix="kotak-test-") as d:
        config = os.path.join(d, "kotak.toml")
        with open(config, "w") as f:
            f.write(f'hostname = "{HOSTNAME}"\n')
        n = Node(d).start(config=config)
        try:
            n.add_account("user@kotak.test", "secret")
            c = smtplib.LMTP()
            code, greeting = c.connect("127.0.0.1", n.ports["lmtp"])
            assert code == 220 and greeting.split()[0] == HOSTNAME.encode(), greeting
            code, lhlo = c.ehlo("client.test")
            assert code == 250 and lhlo.splitlines()[0] == HOSTNAME.encode(), lhlo
            assert c.sendmail("ana@example.org", ["user@kotak.test"], make_message(1)) == {}
            c.quit()

            i = imaplib.IMAP4("127.0.0.1", n.ports["imap"], timeout=30)
            i.login("user@kotak.test", "secret")
            i.select("INBOX", readonly=True)
            typ, data = i.fetch("1", "(BODY.PEEK[HEADER.FIELDS (RECEIVED)])")
            i.logout()
            received = b" ".join(d[1] for d in data if isinstance(d, tuple))
            received = b" ".join(received.split())
            assert received.startswith(b"Received: from client.test ([127.0.0.1]) by "
                                       + HOSTNAME.encode() + b" (Kotak) with LMTP"), received
            assert b"localhost" not in received, received
        finally:
            n.stop()
