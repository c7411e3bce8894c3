"""SEARCH classes that `kotak bench search` does not send, timed with one
client on an account that a search scenario filled: infixes of body words,
parts of addresses, TEXT infixes, strings of two and three characters and
one found nowhere. Each query runs `--passes` times; prints the median
milliseconds and the hits, so Kotak and Dovecot can be run on the same
mailbox and compared line by line.

    python3 benches/compare/search_classes.py --port 14399 \
        --user search1@bench.test --password searchpw1
"""

import argparse
import imaplib
import json
import statistics
import time

# (class, IMAP search key, search string); strings from the bench corpus
# (tools/kotak/src/bench/corpus.rs): its Indonesian and English words,
# sender and recipient addresses, and the relay's host name.
QUERIES = [
    ("BODY infix", "BODY", "eeting"),
    ("BODY infix", "BODY", "aporan"),
    ("BODY infix", "BODY", "ersetuj"),
    ("FROM address part", "FROM", "nder3@bench"),
    ("FROM address part", "FROM", "ench-sourc"),
    ("TO address part", "TO", "arch1@bench"),
    ("TEXT infix", "TEXT", "aporan"),
    ("TEXT header part", "TEXT", "mail.kotak.test"),
    ("BODY 3 characters", "BODY", "ngg"),
    ("BODY 2 characters", "BODY", "ab"),
    ("found nowhere", "BODY", "qxzqjv"),
]


def run(o):
    imap = imaplib.IMAP4(o.host, o.port)
    imap.login(o.user, o.password)
    imap.select(o.mailbox, readonly=True)
    rows = []
    for cls, key, text in QUERIES:
        times, hits = [], None
        for _ in range(o.passes):
            t0 = time.perf_counter()
            typ, data = imap.uid("SEARCH", key, f'"{text}"')
            times.append((time.perf_counter() - t0) * 1e3)
            if typ != "OK":
                raise RuntimeError(f"SEARCH {key} {text}: {typ} {data}")
            hits = len(data[0].split())
        rows.append({"class": cls, "query": f"{key} {text}", "p50_ms": round(statistics.median(times), 2),
                     "hits": hits})
    imap.logout()
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--mailbox", default="INBOX")
    p.add_argument("--passes", type=int, default=5, help="runs of each query (median reported)")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    o = p.parse_args()
    rows = run(o)
    if o.json:
        for r in rows:
            print(json.dumps(r))
        return
    print(f"{'class':<20} {'query':<24} {'p50 ms':>9} {'hits':>8}")
    for r in rows:
        print(f"{r['class']:<20} {r['query']:<24} {r['p50_ms']:>9.2f} {r['hits']:>8}")


if __name__ == "__main__":
    main()
