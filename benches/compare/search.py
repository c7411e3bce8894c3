"""Set-up of the search scenario: one account filled with the same number of
messages on every server over LMTP (`kotak bench lmtp`, same corpus seed),
Kotak's full-text index rebuilt by the running node and timed with `kotak
reindex` (when the build has it), and a second Dovecot with the fts-xapian plugin on the first
one's maildirs, indexed with `doveadm index` and timed (when the plugin is
installed). The rounds then run against all of them."""

import json
import os
import subprocess

from servers import DovecotFts, tree_bytes

# `kotak bench` accounts: --user-prefix search --users 1 --password-prefix searchpw.
ADDRESS, PASSWORD = "search1@bench.test", "searchpw1"
# Longest wait for one SEARCH reply (a scan of 100,000 messages takes a while).
QUERY_TIMEOUT = 120


def fill(o, server, progress):
    """Delivers `o.search_messages` messages to the account; returns a note."""
    limit = max(600, o.search_messages // 20)
    argv = [o.kotak, "bench", "lmtp", "--port", str(server.ports["lmtp"]), "--users", "1",
            "--user-prefix", "search", "--password-prefix", "searchpw", "--messages", str(o.search_messages),
            "--multi-recipient-share", "0", "--concurrency", str(o.search_fill_sessions),
            "--seed", str(o.seed), "--time-limit", str(limit), "--json"]
    if o.search_size:
        argv += ["--size", str(o.search_size)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=limit + 60)
    if done.returncode != 0:
        raise RuntimeError(f"filling {server.name}: {done.stderr.strip()}")
    j = json.loads(done.stdout.strip().splitlines()[-1])
    if j["errors"] or j["operations"] != o.search_messages:
        raise RuntimeError(f"filling {server.name}: {j['operations']} of {o.search_messages} delivered, "
                           f"{j['errors']} refused")
    note = (f"{server.name}: filled with {j['operations']:,} messages ({j['mb_per_second'] * j['seconds']:,.0f} MB) "
            f"in {j['seconds']:.1f} s ({j['per_second']:,.0f} messages/s)")
    progress("  " + note)
    return note


def has_reindex(kotak):
    """Whether this build of Kotak has the `reindex` command."""
    return subprocess.run([kotak, "reindex", "--help"], capture_output=True).returncode == 0


def reindex(o, kotak, progress):
    """Rebuilds the account's index (the running node does the work, queued
    through its admin socket) and waits for it; returns a note."""
    if not has_reindex(o.kotak):
        note = "Kotak: no `kotak reindex` in this build; index build not timed"
        progress("  " + note)
        return note
    argv = [o.kotak, "reindex", "--data-dir", kotak.data_dir, "--account", ADDRESS, "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"})
    if done.returncode != 0:
        raise RuntimeError(f"kotak reindex failed: {done.stderr.strip()}")
    j = json.loads(done.stdout.strip().splitlines()[-1])
    cores = os.cpu_count() or 1
    note = (f"Kotak: kotak reindex {j['messages']:,} messages in {j['seconds']:.1f} s: "
            f"{j['messages_per_sec']:,.0f} messages/s, {j['messages_per_sec'] / cores:,.0f} per core ({cores} cores); "
            f"index {j['index_bytes'] / 1e6:,.1f} MB = {ratio_text(j['index_bytes'], j['mail_bytes'])} "
            f"of {j['mail_bytes'] / 1e6:,.1f} MB of mail")
    progress("  " + note)
    return note


def ratio_text(part, whole):
    return f"{100 * part / whole:.1f}%" if whole else "-"


def start_fts(o, plain, extra, progress):
    """Starts Dovecot with fts-xapian on `plain`'s mail and indexes the
    account; returns the server (or None) and a note."""
    if not DovecotFts.available():
        note = "Dovecot+fts: skipped, fts-xapian is not installed (apt-get install dovecot-fts-xapian)"
        progress("  " + note)
        return None, note
    fts = DovecotFts(plain)
    extra.append(fts)
    fts.start()
    seconds = fts.index(ADDRESS)
    home = plain.home(ADDRESS)
    mail = tree_bytes(os.path.join(home, "cur")) + tree_bytes(os.path.join(home, "new"))
    index = fts.index_bytes(ADDRESS)
    note = (f"Dovecot+fts: doveadm index {o.search_messages:,} messages in {seconds:.1f} s "
            f"({o.search_messages / seconds:,.0f} messages/s, one process); "
            f"index {index / 1e6:,.1f} MB = {ratio_text(index, mail)} of {mail / 1e6:,.1f} MB of mail")
    progress("  " + note)
    return fts, note


def prepare(o, servers, extra, progress):
    """Fills the account on every server, builds the full-text indexes;
    returns the servers to time and the notes to print."""
    notes = [f"queries: {o.search_clients} clients, seed {o.seed}; corpus "
             + (f"{o.search_size:,}-byte messages" if o.search_size else "size mix (1 KB-2 MB)")
             + f", delivered over {o.search_fill_sessions} LMTP sessions"]
    for server in servers:
        notes.append(fill(o, server, progress))
    run_on = list(servers)
    for server in servers:
        if server.name == "Kotak":
            notes.append(reindex(o, server, progress))
        if server.name == "Dovecot":
            fts, note = start_fts(o, server, extra, progress)
            notes.append(note)
            if fts:
                run_on.append(fts)
    return run_on, notes
