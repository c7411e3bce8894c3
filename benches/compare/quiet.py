"""Keeping one round's cost out of the next.

Work a server goes on doing after a round has ended (Kotak indexing the
mail just delivered for search, RocksDB compactions; Dovecot's index and
cache updates): measured, and waited out before the next round starts, so
that it is neither charged to the next round nor steals CPU from the other
server's round. What it cost is reported beside the round's figures."""

import imaplib
import os
import time

# A server is quiet when, over one window, it used less than this share of one core.
QUIET_SHARE = 0.05
WINDOW_SECONDS = 1.0


def group_cpu_seconds(pgid):
    """CPU seconds used by every process of a process group, with the
    children it has reaped (Dovecot's finished session processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces: fields count from after its ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            total += sum(int(v) for v in fields[11:15])
    return total / tick


def settle(server, limit_seconds=180):
    """Waits until `server` (its whole process group) is quiet; returns the
    CPU seconds it used meanwhile and the seconds waited. Gives up after
    `limit_seconds`, returning what it saw."""
    start = time.monotonic()
    first = last = group_cpu_seconds(server.pid)
    while time.monotonic() - start < limit_seconds:
        time.sleep(WINDOW_SECONDS)
        now = group_cpu_seconds(server.pid)
        if now - last < QUIET_SHARE * WINDOW_SECONDS:
            last = now
            break
        last = now
    return {"cpu_seconds": round(last - first, 2), "seconds": round(time.monotonic() - start, 1)}


def log_everyone_in(server):
    """Logs every account in once over IMAP, so that no counted round pays
    for a first password check that later logins skip (both servers can
    cache verified logins: Kotak always, Dovecot with an auth cache).
    Returns the seconds it took."""
    start = time.monotonic()
    for address, password in server.accounts():
        with imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=60) as imap:
            imap.login(address, password)
            imap.logout()
    return round(time.monotonic() - start, 1)


def settle_groups(procs, limit=60):
    """Waits until the process groups of `procs` (objects with `cpu()`)
    together use under 5% of a core for a second, at most `limit` seconds;
    returns the seconds waited."""
    start = time.monotonic()
    last = sum(p.cpu() for p in procs)
    while time.monotonic() - start < limit:
        time.sleep(1)
        now = sum(p.cpu() for p in procs)
        if now - last < 0.05:
            break
        last = now
    return round(time.monotonic() - start, 1)
