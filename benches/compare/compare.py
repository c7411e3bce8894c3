#!/usr/bin/env python3
"""Kotak vs Dovecot on this machine: starts both servers on loopback with the
same accounts, runs every scenario against each in turn (Kotak, Dovecot,
Kotak, Dovecot, ...; a warm-up round first, not counted), and prints the
medians and the Kotak/Dovecot ratio of every figure beside the machine's
cores and measured fsync latency. Both servers are stopped whatever happens.
The search scenario (opt-in) adds a Dovecot with fts-xapian when installed.

Run it through benches/compare/run.sh, which installs Dovecot, builds Kotak
and cleans up; see benches/README.md."""

import argparse
import datetime
import json
import os
import resource
import signal
import subprocess
import sys
import time

import machine
import quiet
import report
from scenarios import CPU_PER_COMMAND, PROFILE_SCENARIOS, SCENARIOS
from servers import Dovecot, DovecotFts, Kotak


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kotak", required=True, help="the kotak binary (release build)")
    p.add_argument("--work", required=True, help="an empty directory for both servers' data")
    p.add_argument("--rounds", type=int, default=3,
                   help="counted rounds per scenario and server (>= 3 for medians worth quoting; 1 for a quick look)")
    p.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS if not s.opt_in),
                   help="comma-separated subset of: " + ", ".join(s.name for s in SCENARIOS)
                        + " (search and the imap-PROFILE ones only when named or with --search-messages; "
                          "imap-profiles names every imap-PROFILE)")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--seed", type=int, default=1, help="corpus seed")
    p.add_argument("--lmtp-messages", type=int, default=5000, help="4 KB messages per lmtp run")
    p.add_argument("--lmtp-sessions", type=int, default=16, help="concurrent LMTP sessions")
    p.add_argument("--mix-messages", type=int, default=1000, help="messages per lmtp-mix run")
    p.add_argument("--pop3-messages", type=int, default=20000, help="RETRs per pop3 run")
    p.add_argument("--pop3-clients", type=int, default=16)
    p.add_argument("--imap-clients", type=int, default=50)
    p.add_argument("--imap-seconds", type=int, default=10, help="length of one imap run")
    p.add_argument("--idle", type=int, default=500, help="idle connections per idle run")
    p.add_argument("--idle-concurrency", type=int, default=2,
                   help="idle connections being set up at once (low, so password hashing's transient "
                        "memory does not swamp the per-connection figure)")
    p.add_argument("--search-messages", type=int, default=0,
                   help="run the search scenario on one account filled with this many messages "
                        "(20000 when --scenarios names search)")
    p.add_argument("--search-size", type=int, help="fixed message size for the search fill (default: the size mix)")
    p.add_argument("--search-fill-sessions", type=int, default=16, help="LMTP sessions filling the search account")
    p.add_argument("--search-clients", type=int, default=4, help="concurrent SEARCH clients")
    p.add_argument("--search-seconds", type=int, default=20, help="length of one search run")
    p.add_argument("--servers", default="Kotak,Dovecot",
                   help="which servers to run (e.g. Kotak alone for an idle run too big for Dovecot)")
    p.add_argument("--dovecot-scheme", default="ARGON2ID-KOTAK",
                   help="Dovecot's password scheme: ARGON2ID-KOTAK (Argon2id with Kotak's cost, made with the "
                        "argon2 tool) or any `doveadm pw -s` scheme, e.g. SHA512-CRYPT")
    p.add_argument("--dovecot-auth-cache", default="0", help="Dovecot's auth_cache_size (0: its default, off)")
    p.add_argument("--dovecot-fts-autoindex", action="store_true",
                   help="Dovecot indexes new mail for full-text search as it arrives (fts-xapian, fts_autoindex), "
                        "as Kotak does")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.add_argument("--json-out", help="also write the JSON results to this file")
    o = p.parse_args()
    if o.rounds < 1:
        p.error("--rounds must be at least 1")
    names = o.scenarios.split(",")
    if "imap-profiles" in names:
        names = [n for n in names if n != "imap-profiles"] + PROFILE_SCENARIOS
    if o.search_messages > 0 and "search" not in names:
        names.append("search")
    if "search" in names and o.search_messages <= 0:
        o.search_messages = 20000
    unknown = set(names) - {s.name for s in SCENARIOS}
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    o.selected = [s for s in SCENARIOS if s.name in names]
    o.servers = [s for s in ("Kotak", "Dovecot") if s in o.servers.split(",")]
    if not o.servers:
        p.error("--servers must name Kotak, Dovecot or both")
    if o.dovecot_fts_autoindex and not DovecotFts.available():
        p.error("--dovecot-fts-autoindex needs Debian's dovecot-fts-xapian (run.sh installs it for this flag)")
    return o


def progress(text):
    print(text, file=sys.stderr, flush=True)


def bench(o, scenario, server, warmup):
    """Runs one scenario against one server; returns the bench's JSON."""
    server.check_alive()
    port = server.ports[scenario.protocol]
    argv = [o.kotak, "bench"] + scenario.argv(o, port, warmup, server.pid) + ["--json"]
    timeout = scenario.timeout(o) if callable(scenario.timeout) else scenario.timeout
    cpu0 = quiet.group_cpu_seconds(server.pid)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    cpu1 = quiet.group_cpu_seconds(server.pid)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} against {server.name} failed: {done.stderr.strip()}")
    j = json.loads(done.stdout.strip().splitlines()[-1])
    # The server's CPU while the bench ran (its set-up included).
    j["run_cpu_s"] = round(cpu1 - cpu0, 2)
    return j


def run_scenario(o, scenario, servers):
    """Warm-up, then `rounds` alternating rounds; returns the summary rows."""
    results = {s.name: [] for s in servers}
    for server in servers:
        quiet.settle(server)
    for r in range(o.rounds + 1):
        for server in servers:
            if scenario.fresh:
                server.restart()
                quiet.settle(server)
            t0 = time.monotonic()
            j = bench(o, scenario, server, warmup=(r == 0))
            elapsed = time.monotonic() - t0
            after = quiet.settle(server)
            j["background_cpu_s"], j["background_s"] = after["cpu_seconds"], after["seconds"]
            first = scenario.figures[0]
            label = "warm-up" if r == 0 else f"round {r}"
            progress(f"  {scenario.name:<8} {label:<8} {server.name:<11} {first.label} = "
                     f"{report.fmt(first.read(j))}  ({elapsed:.1f} s; then {after['cpu_seconds']} CPU s "
                     f"in {after['seconds']} s until quiet)")
            if r > 0:
                results[server.name].append(j)
    return report.summarize(scenario, results)


def raise_fd_limit():
    """Idle runs hold thousands of sockets on both ends; children inherit this."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main():
    o = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    fd_limit = raise_fd_limit()
    if o.idle + 200 > fd_limit:
        sys.exit(f"--idle {o.idle} needs more file descriptors than the limit ({fd_limit})")
    started = time.monotonic()
    progress("measuring fsync latency ...")
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine.describe(o.work),
        "rounds": o.rounds,
        "users": o.users,
        "options": {k: v for k, v in vars(o).items() if k not in ("selected", "kotak", "work")},
        "servers": {},
    }
    # Room for the idle connections and every other client at once.
    max_connections = o.idle + 1000
    accounts = [a for scenario in o.selected for a in scenario.accounts]
    servers = []
    if "Kotak" in o.servers:
        servers.append(Kotak(o.work, o.kotak, o.users, max(10_000, max_connections), accounts))
    if "Dovecot" in o.servers:
        servers.append(Dovecot(o.work, o.users, o.dovecot_scheme, o.dovecot_auth_cache, max_connections, accounts,
                               fts_autoindex=o.dovecot_fts_autoindex))
    # Servers a scenario starts for itself; stopped with the others.
    extra = []
    tables = []
    try:
        for s in servers:
            t0 = time.monotonic()
            s.start()
            progress(f"{s.name} up with {o.users} accounts, ports {s.ports} ({time.monotonic() - t0:.1f} s); "
                     f"every account logged in once in {quiet.log_everyone_in(s)} s")
        meta["servers"] = {s.name: s.settings() for s in servers}
        for scenario in o.selected:
            progress(f"{scenario.name}: {scenario.summary}")
            run_on, notes = servers, []
            if scenario.prepare:
                run_on, notes = scenario.prepare(o, servers, extra, progress)
                meta["servers"].update({s.name: s.settings() for s in extra})
            tables.append((scenario, run_scenario(o, scenario, run_on), notes))
    finally:
        for s in servers + extra:
            s.stop()
    meta["seconds"] = round(time.monotonic() - started, 1)
    out = {**meta, "scenarios": {sc.name: rows for sc, rows, _ in tables},
           "notes": {sc.name: notes for sc, _, notes in tables if notes}}
    if o.json_out:
        with open(o.json_out, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    if o.json:
        print(json.dumps(out, indent=1))
        return
    report.print_header(meta)
    for scenario, rows, notes in tables:
        report.print_table(scenario, rows, notes)
    report.print_cpu_summary(tables, CPU_PER_COMMAND)
    report.print_cpu_summary(tables, "server CPU ms/message")
    print(f"\nwhole run: {meta['seconds']} s")


if __name__ == "__main__":
    main()
