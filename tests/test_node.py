"""The operator interface: restart durability and account admin through the
running node's admin socket and directly on the data directory."""

import imaplib
import re
import tempfile

from conftest import Node, kotak, make_message


def snapshot(node):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    c.login("user@kotak.test", "secret")
    typ, data = c.select("INBOX")
    validity = c.untagged_responses["UIDVALIDITY"][0]
    typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    msgs = [(re.search(rb"UID (\d+)", d[0]).group(1), d[1]) for d in data if isinstance(d, tuple)]
    c.logout()
    return validity, msgs


def test_restart_keeps_everything():
    with tempfile.TemporaryDirectory() as d:
        n = Node(d).start()
        try:
            n.add_account("user@kotak.test", "secret")
            for i in range(10):
                n.deliver("ana@example.org", ["user@kotak.test"], make_message(i))
            before = snapshot(n)
            assert len(before[1]) == 10
        finally:
            n.stop()
        n.start()
        try:
            after = snapshot(n)
        finally:
            n.stop()
        assert after == before


def test_account_admin_online_and_offline():
    with tempfile.TemporaryDirectory() as d:
        kotak("account", "add", "off@kotak.test", "--password", "pw1", "--data-dir", d)
        n = Node(d).start()
        try:
            n.add_account("on@kotak.test", "pw2")
            out = kotak("account", "list", "--data-dir", d).stdout
            assert "off@kotak.test" in out and "on@kotak.test" in out
            dup = kotak("account", "add", "on@kotak.test", "--password", "x", "--data-dir", d, check=False)
            assert dup.returncode != 0
            kotak("account", "passwd", "on@kotak.test", "--password", "pw3", "--data-dir", d)
            c = imaplib.IMAP4("127.0.0.1", n.ports["imap"], timeout=30)
            c.login("on@kotak.test", "pw3")
            c.logout()
            refused = n.deliver("a@example.org", ["on@kotak.test", "nobody@kotak.test"], make_message(1))
            assert list(refused) == ["nobody@kotak.test"] and refused["nobody@kotak.test"][0] == 550
            kotak("account", "del", "on@kotak.test", "--data-dir", d)
            assert "on@kotak.test" not in kotak("account", "list", "--data-dir", d).stdout
        finally:
            n.stop()
        assert "off@kotak.test" in kotak("account", "list", "--data-dir", d).stdout


def test_quota_refuses_lmtp_and_append(node):
    node.add_account("q@kotak.test", "pw")
    kotak("account", "quota", "q@kotak.test", "--messages", "1", "--data-dir", node.data_dir)
    assert node.deliver("a@example.org", ["q@kotak.test"], make_message(1)) == {}
    import smtplib
    try:
        node.deliver("a@example.org", ["q@kotak.test"], make_message(2))
        raise AssertionError("delivery over quota was accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 552 and b"5.2.2" in e.smtp_error
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    c.login("q@kotak.test", "pw")
    typ, data = c.append("INBOX", None, None, make_message(3))
    assert typ == "NO" and b"[OVERQUOTA]" in data[0]
    c.logout()
