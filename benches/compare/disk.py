"""Disk use under a mixed load, and how long a restart takes afterwards.

Starts a throwaway server (Kotak, or Dovecot with --dovecot) with the usual
100 accounts, runs `kotak bench lmtp` (the realistic size mix) and
`kotak bench imap` against it at the same time for --seconds, and samples
its data directory every two seconds. For Kotak the write-ahead log files
(shard-*/NNNNNN.log) are counted apart from the rest. After the load: the
sizes once the server is quiet, the mail it stores (the RFC822.SIZE of every
message, read over IMAP), then for Kotak a stop (SIGTERM) and a start, timed
from the spawn to the last `listening` line, and the sizes after it; with
--crash-fill-mb, a further delivery, a SIGKILL and the start that replays it.

Sizes are what `du` counts (allocated blocks), so a maildir pays for its
small files' blocks the way it does on a real disk.

Usage (as root for Dovecot; see benches/README.md, "Disk use and restart"):
  python3 benches/compare/disk.py --kotak target/release/kotak [--seconds 180]
  python3 benches/compare/disk.py --kotak target/release/kotak --dovecot
"""

import argparse
import glob
import imaplib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quiet  # noqa: E402
from servers import SAME_AS_KOTAK, Dovecot, Kotak  # noqa: E402

WAL = re.compile(r"^\d+\.log$")


def du(path):
    """Bytes allocated to the files under `path`."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def kotak_sizes(data_dir):
    """The data directory's size, split into RocksDB's logs, the rest of the
    shards, the search indexes and everything else."""
    wal = 0
    for shard in glob.glob(os.path.join(data_dir, "shard-*")):
        for name in os.listdir(shard):
            if WAL.match(name):
                try:
                    wal += os.lstat(os.path.join(shard, name)).st_blocks * 512
                except FileNotFoundError:
                    pass
    shards = sum(du(p) for p in glob.glob(os.path.join(data_dir, "shard-*")))
    fts = sum(du(p) for p in glob.glob(os.path.join(data_dir, "fts-*")))
    return {"total": du(data_dir), "wal": wal, "shards_without_wal": shards - wal, "fts": fts}


def dovecot_sizes(server):
    return {"total": du(server.mail)}


def stored_mail(server):
    """Messages and bytes (RFC822.SIZE) in every account's INBOX."""
    messages = size = 0
    for address, password in server.accounts():
        with imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=120) as imap:
            imap.login(address, password)
            typ, data = imap.select("INBOX", readonly=True)
            if int(data[0]) > 0:
                typ, data = imap.fetch("1:*", "(RFC822.SIZE)")
                for line in data:
                    m = re.search(rb"RFC822\.SIZE (\d+)", line if isinstance(line, bytes) else line[0])
                    if m:
                        messages += 1
                        size += int(m.group(1))
            imap.logout()
    return {"messages": messages, "bytes": size}


def timed_launch(server):
    """Starts Kotak on its data and returns the seconds until it reported
    every listener (polled every 10 ms)."""
    return server.launch(timeout=120, poll=0.01)


def crash_restart(o, server):
    """Delivers about `crash_fill_mb` MB of 40 KB messages, kills the node
    (SIGKILL: nothing is flushed) and times the start that replays the log."""
    count = o.crash_fill_mb * 1_000_000 // 40_000
    subprocess.run([o.kotak, "bench", "lmtp", "--port", str(server.ports["lmtp"]), "--users", str(o.users),
                    "--messages", str(count), "--size", "40000", "--json"], check=True, stdout=subprocess.DEVNULL)
    before = kotak_sizes(server.data_dir)
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    return {"messages": count, "wal_at_kill": before["wal"], "restart_seconds": timed_launch(server)}


def load(o, server, sizes):
    """The mixed load; returns the two benchmarks' JSON and the largest
    sizes seen while it ran."""
    common = ["--port", None, "--users", str(o.users), "--json"]
    lmtp = [o.kotak, "bench", "lmtp", *common, "--messages", str(o.lmtp_messages),
            "--time-limit", str(o.seconds)]
    lmtp[lmtp.index(None)] = str(server.ports["lmtp"])
    imap = [o.kotak, "bench", "imap", *common, "--clients", str(o.imap_clients), "--seconds", str(o.seconds)]
    imap[imap.index(None)] = str(server.ports["imap"])
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for argv in (lmtp, imap)]
    peak = {}
    while any(p.poll() is None for p in procs):
        for k, v in sizes().items():
            peak[k] = max(peak.get(k, 0), v)
        time.sleep(2)
    out = []
    for p in procs:
        text = p.stdout.read()
        out.append(json.loads(text) if p.returncode == 0 else {"error": p.returncode})
    return {"lmtp": out[0], "imap": out[1]}, peak


def mb(n):
    return f"{n / 1e6:,.0f} MB"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kotak", required=True, help="kotak binary (serves, and runs the load)")
    p.add_argument("--dovecot", action="store_true", help="measure Dovecot instead of Kotak")
    p.add_argument("--seconds", type=int, default=180)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--lmtp-messages", type=int, default=10_000, help="LMTP messages (size mix) over the run")
    p.add_argument("--imap-clients", type=int, default=50)
    p.add_argument("--crash-fill-mb", type=int, default=0,
                   help="Kotak: then deliver this many MB, SIGKILL the node and time the start that replays the log")
    p.add_argument("--work", help="work directory (default: a new one under /tmp, removed at the end)")
    p.add_argument("--json-out")
    o = p.parse_args()
    work = o.work or tempfile.mkdtemp(prefix="kotak-disk.")
    if o.dovecot:
        server = Dovecot(work, o.users, SAME_AS_KOTAK, "0", 10_000)
        sizes = lambda: dovecot_sizes(server)  # noqa: E731
    else:
        server = Kotak(work, o.kotak, o.users, 10_000)
        sizes = lambda: kotak_sizes(server.data_dir)  # noqa: E731
    result = {"server": server.name, "seconds": o.seconds}
    try:
        server.start()
        quiet.log_everyone_in(server)
        result["bench"], result["peak"] = load(o, server, sizes)
        result["end_of_load"] = sizes()
        result["settle"] = quiet.settle(server)
        result["quiet"] = sizes()
        result["stored"] = stored_mail(server)
        if not o.dovecot:
            server.stop()
            result["stopped"] = sizes()
            result["restart_seconds"] = timed_launch(server)
            result["after_restart"] = sizes()
            # Once more with nothing left to replay: the start's fixed cost.
            server.stop()
            result["restart_seconds_again"] = timed_launch(server)
            if o.crash_fill_mb:
                result["crash"] = crash_restart(o, server)
    finally:
        server.stop()
        if not o.work:
            subprocess.run(["rm", "-rf", work])
    print(json.dumps(result, indent=1))
    stored = result.get("stored", {})
    print(f"{server.name}: stores {stored.get('messages', 0):,} messages, {mb(stored.get('bytes', 0))} of mail; "
          f"peak {mb(result['peak'].get('total', 0))}"
          + (f" (log {mb(result['peak'].get('wal', 0))})" if "wal" in result["peak"] else "")
          + f"; quiet {mb(result['quiet']['total'])}"
          + (f" (log {mb(result['quiet']['wal'])}); restart {result['restart_seconds']} s, "
             f"then {mb(result['after_restart']['total'])} (log {mb(result['after_restart']['wal'])})"
             if not o.dovecot else "")
          + (f"; after SIGKILL with {mb(result['crash']['wal_at_kill'])} of log: restart "
             f"{result['crash']['restart_seconds']} s" if "crash" in result else ""), file=sys.stderr)
    if o.json_out:
        with open(o.json_out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
