"""The scenarios a comparison runs: which `kotak bench` command line drives a
server, and which figures are read from its `--json` output.

Every scenario runs against both servers with the same accounts, corpus seed
and client concurrency; only the port (and, for `idle`, the pid whose memory
is read) differ."""

from dataclasses import dataclass, field

import search


@dataclass
class Figure:
    """One figure of a scenario: how to read it from the bench's JSON, and
    whether more is better (None: neither, a count shown for checking).
    `goal` is the issue's target for Kotak/Dovecot (a minimum ratio), or for
    Kotak alone (`kotak_max`)."""

    label: str
    read: object
    higher_is_better: bool
    goal: float = None
    kotak_max: float = None
    # When the goal applies: (what, test) where test(j) must hold for every
    # Kotak round, e.g. the idle goal is for 10,000 connections.
    goal_when: tuple = None
    # The goal is a maximum Kotak/Dovecot ratio (CPU per command: at most a third).
    lower_goal: bool = False


@dataclass
class Scenario:
    """A load, its warm-up variant, and its figures. `protocol` names the
    server's listener the load goes to."""

    name: str
    protocol: str
    summary: str
    argv: object
    figures: list = field(default_factory=list)
    # Seconds one bench run may take, or a function of the options giving them.
    timeout: object = 300
    # A new server process before each run (on the same data), for figures
    # that read the server's memory.
    fresh: bool = False
    # Run only when asked for (`--scenarios NAME` or the scenario's own flag).
    opt_in: bool = False
    # (address, password) of accounts the scenario needs besides userK.
    accounts: list = field(default_factory=list)
    # Set-up before the rounds: prepare(o, servers, extra, progress) returns
    # the servers to run against and lines to print under the table; servers
    # it starts go into `extra` (stopped with the others).
    prepare: object = None


# The figure the CPU summary (report.print_cpu_summary) collects.
CPU_PER_COMMAND = "server CPU us/command"


def row_figure(rows, name_key, name, key):
    """Reads `key` of the row of `j[rows]` whose `name_key` is `name`."""
    def read(j):
        for row in j.get(rows, []):
            if row[name_key] == name:
                return row[key]
        return None
    return read


def command_latency(command, key="p50_ms"):
    """Reads one command's latency from the `imap` scenario's JSON."""
    return row_figure("commands", "command", command, key)


def search_figures():
    """p50 and p99 of each query class, the results of its first query
    (the one every server answers), then the totals."""
    classes = ["word", "and", "phrase", "from", "text"]
    return ([Figure(f"{c} p50 ms", row_figure("classes", "class", c, "p50_ms"), False) for c in classes]
            + [Figure(f"{c} p99 ms", row_figure("classes", "class", c, "p99_ms"), False) for c in classes]
            + [Figure(f"{c} hits, 1st query", row_figure("classes", "class", c, "example_hits"), None)
               for c in classes]
            + [Figure("queries/s", lambda j: j["per_second"], True),
               Figure("messages", lambda j: j["messages"], None),
               Figure("NO/BAD replies", lambda j: j["refused"], False),
               Figure("i/o errors", lambda j: j["io_errors"], False)])


def lmtp_argv(o, port, warmup, pid):
    messages = max(o.lmtp_messages // 5, 100) if warmup else o.lmtp_messages
    return ["lmtp", "--port", str(port), "--messages", str(messages), "--concurrency", str(o.lmtp_sessions),
            "--users", str(o.users), "--size", "4096", "--seed", str(o.seed), "--time-limit", "120"]


def mix_argv(o, port, warmup, pid):
    messages = max(o.mix_messages // 5, 50) if warmup else o.mix_messages
    return ["lmtp", "--port", str(port), "--messages", str(messages), "--concurrency", str(o.lmtp_sessions),
            "--users", str(o.users), "--seed", str(o.seed + 1), "--time-limit", "120"]


def pop3_argv(o, port, warmup, pid):
    messages = max(o.pop3_messages // 5, 500) if warmup else o.pop3_messages
    return ["pop3", "--port", str(port), "--messages", str(messages), "--concurrency", str(o.pop3_clients),
            "--users", str(o.users), "--time-limit", "60"]


def imap_argv(o, port, warmup, pid):
    seconds = max(o.imap_seconds // 3, 2) if warmup else o.imap_seconds
    return ["imap", "--port", str(port), "--clients", str(o.imap_clients), "--users", str(o.users),
            "--seconds", str(seconds), "--seed", str(o.seed)]


def persistent_argv(only):
    """`kotak bench imap` with sessions that stay logged in: the mix, or
    `--only PROFILE`; the bench reads the server's CPU over its measured
    window (`--pid`)."""
    def argv(o, port, warmup, pid):
        seconds = max(o.imap_seconds // 3, 2) if warmup else o.imap_seconds
        mode = ["--only", only] if only else ["--persistent"]
        return ["imap", "--port", str(port), "--clients", str(o.imap_clients), "--users", str(o.users),
                "--seconds", str(seconds), "--seed", str(o.seed), "--pid", str(pid)] + mode
    return argv


def cpu_per(count, scale, window="run_cpu_s"):
    """Server CPU (the round's, from `window`, plus what it used until quiet
    afterwards: indexing, compaction) per unit of `count(j)`, times `scale`."""
    def read(j):
        n, cpu = count(j), j.get(window)
        if not n or cpu is None:
            return None
        return (cpu + (j.get("background_cpu_s") or 0)) * scale / n
    return read


def idle_argv(o, port, warmup, pid):
    connections = max(o.idle // 5, 10) if warmup else o.idle
    return ["idle", "--port", str(port), "--connections", str(connections), "--users", str(o.users),
            "--concurrency", str(o.idle_concurrency), "--pid", str(pid), "--hold", "2", "--time-limit", "900"]


def search_argv(o, port, warmup, pid):
    seconds = max(o.search_seconds // 3, 5) if warmup else o.search_seconds
    return ["search", "--port", str(port), "--user", search.ADDRESS, "--password", search.PASSWORD,
            "--mailbox", "INBOX", "--duration", str(seconds), "--clients", str(o.search_clients),
            "--seed", str(o.seed), "--senders", str(o.search_fill_sessions),
            "--query-timeout", str(search.QUERY_TIMEOUT)]


PER_MESSAGE = Figure("server CPU ms/message", cpu_per(lambda j: j["operations"], 1e3), False, goal=0.1,
                     lower_goal=True)

DELIVERY = [
    Figure("messages/s", lambda j: j["per_second"], True),
    PER_MESSAGE,
    Figure("MB/s", lambda j: j["mb_per_second"], True),
    Figure("p50 ms", lambda j: j["p50_ms"], False),
    Figure("p99 ms", lambda j: j["p99_ms"], False),
    Figure("errors", lambda j: j["errors"], False),
]

SCENARIOS = [
    Scenario("lmtp", "lmtp", "LMTP delivery, 4 KB messages, 10% to 2-5 recipients", lmtp_argv,
             [Figure("messages/s", lambda j: j["per_second"], True, goal=10)] + DELIVERY[1:]),
    Scenario("lmtp-mix", "lmtp", "LMTP delivery, realistic size mix (1 KB-2 MB, multipart, attachments)", mix_argv,
             DELIVERY),
    Scenario("pop3", "pop3", "POP3 login, STAT, RETR of the whole maildrop, QUIT", pop3_argv, [
        Figure("RETR/s", lambda j: j["per_second"], True, goal=3),
        Figure("MB/s", lambda j: j["mb_per_second"], True),
        Figure("p50 ms", lambda j: j["p50_ms"], False),
        Figure("p99 ms", lambda j: j["p99_ms"], False),
        Figure("errors", lambda j: j["errors"], False),
    ]),
    Scenario("imap", "imap", "imaptest-style cycles: LOGIN, SELECT, 3x(FETCH, STORE, APPEND, EXPUNGE 1/3), LOGOUT",
             imap_argv, [
                 Figure("cycles/s", lambda j: j["cycles_per_second"], True, goal=5),
                 Figure("commands/s", lambda j: j["ops_per_second"], True),
                 Figure(CPU_PER_COMMAND, cpu_per(lambda j: j["operations"], 1e6), False),
                 Figure("LOGIN p50 ms", command_latency("LOGIN"), False),
                 Figure("SELECT p50 ms", command_latency("SELECT"), False),
                 Figure("FETCH p50 ms", command_latency("FETCH"), False),
                 Figure("STORE p50 ms", command_latency("STORE"), False),
                 Figure("APPEND p50 ms", command_latency("APPEND"), False),
                 Figure("EXPUNGE p50 ms", command_latency("EXPUNGE"), False),
                 Figure("state errors", lambda j: j["state_errors"], False),
                 Figure("NO/BAD replies", lambda j: j["refused"], False),
                 Figure("i/o errors", lambda j: j["io_errors"], False),
             ], timeout=300),
    Scenario("idle", "imap", "N connections logged in, INBOX selected, in IDLE; server memory growth", idle_argv, [
        Figure("RSS KiB/connection", lambda j: j["rss_kb_per_connection"], False, kotak_max=16,
               goal_when=("at 10,000 connections", lambda j: j["idling"] >= 10_000)),
        Figure("PSS KiB/connection", lambda j: j["pss_kb_per_connection"], False),
        Figure("marginal RSS KiB/conn", lambda j: j["marginal_rss_kb_per_connection"], False),
        Figure("marginal PSS KiB/conn", lambda j: j["marginal_pss_kb_per_connection"], False),
        Figure("connections idling", lambda j: j["idling"], True),
        Figure("setup connections/s", lambda j: j["connections_per_second"], True),
        Figure("setup p50 ms", lambda j: j["setup_p50_ms"], False),
        Figure("ended cleanly", lambda j: j["ended_cleanly"], True),
    ], timeout=1000, fresh=True),
    Scenario("search", "imap", "SEARCH in one account of N messages: BODY word, BODY w1 BODY w2, BODY \"phrase\", "
             "FROM address, TEXT word", search_argv, search_figures(),
             timeout=lambda o: o.search_seconds + search.QUERY_TIMEOUT + 60, opt_in=True,
             accounts=[(search.ADDRESS, search.PASSWORD)], prepare=search.prepare),
]

# The single-command profiles of `kotak bench imap --only` (imap_profile.rs).
PROFILES = ["fetch-flags", "fetch-4k", "fetch-100k", "store", "expunge", "append", "search", "status", "list",
            "select-10k"]
# `--scenarios imap-profiles` names them all.
PROFILE_SCENARIOS = [f"imap-{p}" for p in PROFILES]


def persistent_figures(counted, goal=None):
    """CPU per counted command (the bench's window plus what followed until
    quiet; `goal`: the issue's maximum Kotak/Dovecot ratio), then rates,
    latencies of the `counted` commands and checks."""
    return [
        Figure(CPU_PER_COMMAND, cpu_per(lambda j: j["counted_commands"], 1e6, "server_cpu_s"), False,
               goal=goal, lower_goal=True),
        Figure("CPU us/cmd in window", lambda j: j.get("server_cpu_us_per_command"), False),
        Figure("commands/s", lambda j: j["ops_per_second"], True),
        Figure("counted commands", lambda j: j["counted_commands"], None),
    ] + [f for c in counted for f in (Figure(f"{c} p50 ms", command_latency(c), False),
                                       Figure(f"{c} p99 ms", command_latency(c, "p99_ms"), False))] + [
        Figure("state errors", lambda j: j["state_errors"], False),
        Figure("NO/BAD replies", lambda j: j["refused"], False),
        Figure("i/o errors", lambda j: j["io_errors"], False),
    ]


SCENARIOS.append(Scenario(
    "imap-persistent", "imap", "each client logs in once, then rounds of SELECT INBOX, 3x(FETCH flags, FETCH "
    "bodies, STORE, APPEND, EXPUNGE 1/3), STATUS, LIST", persistent_argv(None),
    persistent_figures(["SELECT", "FETCH-FLAGS", "FETCH", "STORE", "APPEND", "EXPUNGE", "STATUS", "LIST"], 1 / 3)))
PROFILE_COUNTED = {"fetch-flags": "FETCH-FLAGS", "fetch-4k": "FETCH", "fetch-100k": "FETCH", "store": "STORE",
                   "expunge": "EXPUNGE", "append": "APPEND", "search": "SEARCH", "status": "STATUS",
                   "list": "LIST", "select-10k": "SELECT"}
for _p in PROFILES:
    SCENARIOS.append(Scenario(f"imap-{_p}", "imap", f"logged-in clients repeating `--only {_p}` "
                              "(see tools/kotak/src/bench/imap_profile.rs)", persistent_argv(_p),
                              persistent_figures([PROFILE_COUNTED[_p]], 1 / 3 if _p == "select-10k" else None),
                              timeout=600, opt_in=True))

# After every round the harness waits until the server is quiet (quiet.py);
# the CPU it used meanwhile is work the round left behind.
AFTERWARDS = Figure("CPU s after the round", lambda j: j.get("background_cpu_s"), False)
for _scenario in SCENARIOS:
    _scenario.figures.append(AFTERWARDS)
