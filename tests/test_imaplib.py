"""IMAP with Python's imaplib against messages delivered over LMTP."""

import imaplib
import socket

from conftest import make_message, strip_trace


def login(node, user="user@kotak.test", pw="secret"):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    c.login(user, pw)
    return c


def test_deliver_then_fetch_byte_identical(node):
    node.add_account("user@kotak.test", "secret")
    sent = [make_message(i, extra=b"x" * (i * 997) + b"\r\n") for i in range(20)]
    for m in sent:
        assert node.deliver("ana@example.org", ["user@kotak.test"], m) == {}
    c = login(node)
    typ, data = c.select("INBOX")
    assert typ == "OK" and int(data[0]) == 20
    for i, m in enumerate(sent, start=1):
        typ, data = c.fetch(str(i), "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        assert strip_trace(data[0][1]) == m
        trace = data[0][1][: len(data[0][1]) - len(m)]
        assert trace.startswith(b"Return-Path: <ana@example.org>\r\nReceived: from "), trace
        assert b" ([127.0.0.1])\r\n\tby " in trace and b"\tfor <user@kotak.test>;\r\n" in trace, trace
        assert f"RFC822.SIZE {len(data[0][1])}".encode() in data[0][0]
    c.logout()


def test_flags_search_copy_expunge(node):
    node.add_account("user@kotak.test", "secret")
    for i in range(5):
        node.deliver("ana@example.org", ["user@kotak.test"], make_message(i))
    c = login(node)
    c.select("INBOX")
    assert c.store("2", "+FLAGS", "(\\Flagged)")[0] == "OK"
    assert c.search(None, "FLAGGED")[1][0] == b"2"
    assert c.search(None, "SUBJECT", '"message 3"')[1][0] == b"4"
    assert c.search(None, "NOT", "FLAGGED", "UNSEEN")[1][0] == b"1 3 4 5"
    assert c.create("Projects")[0] == "OK"
    assert c.copy("1:2", "Projects")[0] == "OK"
    assert c.status("Projects", "(MESSAGES UIDNEXT)")[1][0] == b"Projects (MESSAGES 2 UIDNEXT 3)"
    c.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = c.expunge()
    assert data == [b"1"]
    assert c.select("INBOX")[1][0] == b"4"
    typ, data = c.uid("FETCH", "1:*", "(UID)")
    assert [d for d in data] == [b"1 (UID 2)", b"2 (UID 3)", b"3 (UID 4)", b"4 (UID 5)"]
    c.logout()


def test_two_sessions_see_each_other(node):
    node.add_account("user@kotak.test", "secret")
    node.deliver("ana@example.org", ["user@kotak.test"], make_message(1))
    a, b = login(node), login(node)
    a.select("INBOX")
    b.select("INBOX")
    b.untagged_responses.clear()
    node.deliver("ana@example.org", ["user@kotak.test"], make_message(2))
    a.store("1", "+FLAGS", "(\\Seen)")
    typ, data = b.noop()
    untagged = b.untagged_responses
    assert untagged.get("EXISTS") == [b"2"]
    assert any(b"FLAGS" in d and b"\\Seen" in d for d in untagged.get("FETCH", []))
    a.logout()
    b.logout()


def test_append_and_mailbox_names(node):
    node.add_account("user@kotak.test", "secret")
    c = login(node)
    for name in ["Kotak &- surat", "&BB8EPgRHBEIEMA-", "Projek/Laporan"]:
        assert c.create(f'"{name}"')[0] == "OK", name
    names = b"\n".join(c.list()[1])
    for name in [b"Kotak &- surat", b"&BB8EPgRHBEIEMA-", b"Projek/Laporan", b"Projek"]:
        assert name in names
    for bad in ["&AGE-", "&Jjo", "a/../b"]:
        assert c.create(f'"{bad}"')[0] == "NO", bad
    msg = make_message(42)
    typ, data = c.append("Projek/Laporan", "(\\Seen)", '"28-Nov-2026 10:00:00 +0000"', msg)
    assert typ == "OK"
    c.select("Projek/Laporan")
    typ, data = c.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert b"\\Seen" in data[0][0] and b"28-Nov-2026 10:00:00 +0000" in data[0][0]
    assert data[0][1] == msg
    assert c.rename("INBOX", "Old")[0] == "OK"
    c.logout()


def test_bad_input_keeps_others_served(node):
    node.add_account("user@kotak.test", "secret")
    good = login(node)
    s = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=30)
    f = s.makefile("rwb")
    f.readline()
    f.write(b"a1 LOGIN {10000000000}\r\n")
    f.flush()
    reply = f.readline()
    assert reply.startswith(b"a1 BAD") or reply.startswith(b"a1 NO") or reply.startswith(b"* BYE") or reply == b""
    s2 = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=30)
    f2 = s2.makefile("rwb")
    f2.readline()
    f2.write(b"x" * 200_000 + b"\r\n")
    f2.flush()
    assert f2.readline().split(b" ")[1] in (b"BAD", b"BYE")
    s3 = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=30)
    f3 = s3.makefile("rwb")
    f3.readline()
    f3.write(b"b1 FROB\r\nb2 SELECT INBOX\r\nb3 LOGOUT\r\n")
    f3.flush()
    assert f3.readline().startswith(b"b1 BAD")
    assert f3.readline()[:5] in (b"b2 BA", b"b2 NO")
    assert good.noop()[0] == "OK"
    assert good.select("INBOX")[0] == "OK"
    good.logout()
