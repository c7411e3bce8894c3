"""`kotak reindex`: rebuilding the full-text index while the node serves and
with the node stopped, and the automatic rebuild of a lost or damaged index
at start; IMAP SEARCH gives the same UIDs before, during and after each."""

import imaplib
import json
import os
import shutil
import smtplib
import subprocess
import tempfile

from conftest import KOTAK, Node, kotak

# A body word and the spacing of the messages that carry it.
WORDS = {"zebra": 3, "quokka": 7, "ocelot": 11}
MESSAGES = 300
OTHER_MESSAGES = 20
SUMMARY_KEYS = {"accounts", "messages", "seconds", "messages_per_sec", "index_bytes", "mail_bytes"}


def message(i):
    words = " ".join(w for w, every in WORDS.items() if i % every == 0)
    return (
        "From: Ana Example <ana@example.org>\r\n"
        "To: r@kotak.test\r\n"
        f"Subject: note {i}\r\n"
        f"Message-ID: <r{i}@example.org>\r\n"
        "\r\n"
        f"Line {i} of the body {words} and some filler text.\r\n"
    ).encode()


def deliver(node, address, count):
    """Delivers messages 0..count-1 over one LMTP session."""
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=30) as c:
        for i in range(count):
            assert c.sendmail("ana@example.org", [address], message(i)) == {}


def expected():
    """UIDs (message i has UID i+1) of r@kotak.test's messages per word."""
    return {w: [i + 1 for i in range(MESSAGES) if i % every == 0] for w, every in WORDS.items()}


def search(node):
    """UID SEARCH BODY for each word in r@kotak.test's INBOX."""
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    c.login("r@kotak.test", "pw")
    c.select("INBOX", readonly=True)
    found = {}
    for w in WORDS:
        typ, data = c.uid("SEARCH", "BODY", w)
        assert typ == "OK", data
        found[w] = sorted(int(u) for u in data[0].split())
    c.logout()
    return found


def reindex_command(data_dir, *scope):
    return [KOTAK, "reindex", "--data-dir", data_dir, *scope, "--json"]


def summary_of(returncode, stdout, stderr):
    assert returncode == 0, stderr
    summary = json.loads(stdout)
    assert set(summary) == SUMMARY_KEYS, summary
    assert summary["index_bytes"] > 0 and summary["seconds"] >= 0
    return summary


def test_reindex_online_offline_and_after_damage(monkeypatch):
    monkeypatch.setenv("RUST_LOG", "info")
    want = expected()
    with tempfile.TemporaryDirectory(prefix="kotak-test-") as d:
        config = os.path.join(d, "kotak.toml")
        with open(config, "w") as f:
            f.write("shards = 2\n")
        n = Node(d)
        n.start(config=config)
        try:
            n.add_account("r@kotak.test", "pw")
            n.add_account("s@kotak.test", "pw")
            deliver(n, "r@kotak.test", MESSAGES)
            deliver(n, "s@kotak.test", OTHER_MESSAGES)
            assert search(n) == want

            # While the node serves: searches stay exact during the rebuild.
            p = subprocess.Popen(
                reindex_command(d, "--account", "r@kotak.test"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            during = search(n)
            out, err = p.communicate(timeout=60)
            s = summary_of(p.returncode, out, err)
            assert during == want
            assert s["accounts"] == 1 and s["messages"] == MESSAGES
            assert s["mail_bytes"] >= sum(len(message(i)) for i in range(MESSAGES))
            assert search(n) == want

            missing = kotak("reindex", "--data-dir", d, "--account", "nobody@kotak.test", check=False)
            assert missing.returncode == 1 and "nobody@kotak.test" in missing.stderr
            shard = kotak("reindex", "--data-dir", d, "--shard", "2", check=False)
            assert shard.returncode == 1 and "shard 2" in shard.stderr
            assert kotak("reindex", "--data-dir", d, check=False).returncode == 2
            assert kotak("reindex", "--data-dir", d, "--all", "--shard", "0", check=False).returncode == 2
        finally:
            n.stop()

        # With the node stopped, the command opens the data directory itself.
        p = subprocess.run(reindex_command(d, "--all"), capture_output=True, text=True, timeout=60)
        s = summary_of(p.returncode, p.stdout, p.stderr)
        assert s["accounts"] == 2 and s["messages"] == MESSAGES + OTHER_MESSAGES

        # A lost index and a damaged one are rebuilt at start, with a log line.
        shutil.rmtree(os.path.join(d, "fts-0"))
        with open(os.path.join(d, "fts-1", "meta.json"), "w") as f:
            f.write("{ this is not an index")
        log = os.path.join(d, "serve.log")
        seen = os.path.getsize(log)
        n.start(config=config)
        try:
            assert search(n) == want
            p = subprocess.run(reindex_command(d, "--shard", "0"), capture_output=True, text=True, timeout=60)
            summary_of(p.returncode, p.stdout, p.stderr)
            assert search(n) == want
        finally:
            n.stop()
        with open(log, "rb") as f:
            f.seek(seen)
            lines = f.read().decode(errors="replace")
        assert "no full-text index yet; building it from the store" in lines
        assert "full-text index is damaged; rebuilding it from the store" in lines
