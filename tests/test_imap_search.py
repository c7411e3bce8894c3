"""SEARCH strings as case-insensitive substrings (RFC 3501 6.4.4), with
Python's imaplib against messages delivered over LMTP: the examples that
word matching missed, right after delivery (read directly) and once the
index has them."""

import imaplib
import time

MESSAGES = [
    b"From: \"RealFrom\" <user-from@domain.org>\r\nTo: \"Real To\" <user-to@domain.org>\r\n"
    b"Subject: Beautiful world\r\nX-Tracking: qwertyuiop\r\n\r\nasdfghjkl zxcvbnm\r\n",
    b"From: Other <other@example.com>\r\nTo: user@kotak.test\r\n"
    b"Subject: =?utf-8?b?U3RyYcOfZSBpbiBNw7xuY2hlbg==?=\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"0J/RgNC40LLQtdGCLCDQvNC40YAhIENhZsOpIGF1IGxhaXQu\r\n",
    b"From: =?iso-8859-1?q?Ren=E9_Dupr=E9?= <rene@example.fr>\r\nTo: user@kotak.test\r\n"
    b"Subject: wertyuio is not here\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Cr=E8me br=FBl=E9e pour l'=E9quipe\r\n",
]

CASES = [
    (["BODY", "sdfghjk"], b"1"),
    (["TEXT", "sdfghjk"], b"1"),
    (["SUBJECT", "wertyuio"], b"3"),
    (["TEXT", "wertyuio"], b"1 3"),
    (["FROM", "ser-fro"], b"1"),
    (["FROM", "ealfro"], b"1"),
    (["SUBJECT", '"eautiful worl"'], b"1"),
    (["TEXT", "qwertyuiop"], b"1"),
    (["BODY", "qwertyuiop"], b""),
    (["BODY", "zx"], b"1"),
    (["FROM", "@"], b"1 2 3"),
    (["BODY", '"creme brulee"'], b"3"),
    (["FROM", '"ne dup"'], b"3"),
    (["BODY", '"afe au"'], b"2"),
    (["SUBJECT", "unche"], b"2"),
]

# Non-ASCII strings go as literals with CHARSET UTF-8.
UTF8_CASES = [
    ("BODY", "привет, МИР", b"2"),
    ("SUBJECT", "straße", b"2"),
    ("BODY", "é", b"2 3"),
]


def check(node, when):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    c.login("user@kotak.test", "secret")
    assert c.select("INBOX", readonly=True)[0] == "OK"
    for criteria, want in CASES:
        typ, data = c.search(None, *criteria)
        assert typ == "OK" and data[0] == want, (when, criteria, data)
    for key, text, want in UTF8_CASES:
        c.literal = text.encode()
        typ, data = c.search("UTF-8", key)
        assert typ == "OK" and data[0] == want, (when, key, text, data)
    c.logout()


def test_substrings_before_and_after_indexing(node):
    node.add_account("user@kotak.test", "secret")
    for m in MESSAGES:
        assert node.deliver("ana@example.org", ["user@kotak.test"], m) == {}
    check(node, "right after delivery")
    # The indexer commits at most once a second; by then the index answers.
    time.sleep(3)
    check(node, "indexed")
