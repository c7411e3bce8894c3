#!/usr/bin/env python3
"""Inbound SMTP (issue 16): Kotak's MX against Postfix from Debian, end to
end until every accepted message is readable over IMAP.

    python3 benches/compare/smtp.py [--quick] [--rounds N] [--messages M] [--servers postfix,kotak]
                                    [--filters] [--json-out FILE] [--keep]

Run as root. All on loopback, in a temporary directory:

- **Postfix** (Debian's, `/usr/sbin/postfix`): a private instance (its own
  config_directory, queue_directory and data_directory, `postfix -c DIR
  start`), smtpd on a loopback port as the MX of bench.test (virtual mailbox
  domain, unknown users refused at RCPT, no relaying), delivering with
  `virtual_transport = lmtp:inet:127.0.0.1:PORT` to **Dovecot**'s LMTP
  (benches/compare/servers.py's Dovecot, maildir, mail_fsync = optimized).
  No DNS: `smtp_dns_support_level = lmtp_dns_support_level = disabled`,
  `*_host_lookup = native`, `inet_protocols = ipv4`. Queue files fsynced
  before 250, as Postfix always does. Readable over Dovecot's IMAP.
- **Kotak**: one `kotak serve` process with an `[mx]` table and the
  listeners smtp, lmtp and imap (the MX delivers to the node in the same
  process over LMTP), the same accounts. Readable over its IMAP.

Each round runs `kotak bench smtp` against each MX in turn (the order
alternates), end to end, with the server CPU of every process group
involved (Postfix's master and all its children + Dovecot's; Kotak's one
process) read from /proc around the run; then Postfix's own `smtp-source`
as a second client against each (msgs/s accepted, and until readable,
counted by IMAP STATUS). Before each run the harness waits until the
servers are quiet (quiet.py's rule) and notes the machine's load average.

`--filters`: see filters.py (rspamd and clamd in front of both).
"""

import argparse
import imaplib
import json
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from quiet import group_cpu_seconds, settle_groups  # noqa: E402
from servers import DOMAIN, Dovecot, account, free_port, wait_for_port  # noqa: E402

STARTED = []  # every server started, stopped at exit


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg", encoding="utf-8") as f:
        return " ".join(f.read().split()[:3])


class Postfix:
    """A private Postfix instance: the MX of DOMAIN, delivering over LMTP."""

    name = "Postfix"

    def __init__(self, work, users, lmtp_port, milter=None):
        self.dir = os.path.join(work, "postfix")
        self.conf = os.path.join(self.dir, "conf")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.users, self.lmtp_port, self.milter = users, lmtp_port, milter
        self.port = free_port()
        self.pid = None

    def settings(self):
        version = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True,
                                 text=True).stdout.strip()
        return {"version": f"Postfix {version} (Debian)",
                "durability": "queue file fsynced before 250 (Postfix always)",
                "delivery": f"virtual_transport = lmtp:inet:127.0.0.1:{self.lmtp_port} (Dovecot LMTP)",
                "filters": f"smtpd_milters = {self.milter}" if self.milter else "none"}

    def _main_cf(self):
        milter = ""
        if self.milter:
            milter = (f"smtpd_milters = {self.milter}\nmilter_default_action = tempfail\n"
                      "milter_protocol = 6\nmilter_mail_macros = i {mail_addr} {client_addr} {client_name} "
                      "{auth_authen}\n")
        return f"""# Throwaway Postfix for benches/compare/smtp.py: the MX of {DOMAIN} on loopback.
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = {self.dir}/maillog
maillog_file_prefixes = {os.path.dirname(self.dir)}
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{self.conf}/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{self.lmtp_port}
smtpd_relay_restrictions = reject_unauth_destination
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
message_size_limit = 52428800
{milter}"""

    # Debian's master.cf services without chroot (the instance has no chroot tree).
    MASTER_CF = """pickup    fifo  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      fifo  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

    def start(self):
        for d in (self.conf, self.queue, self.data):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.dir, 0o755)
        entry = pwd.getpwnam("postfix")
        os.chown(self.data, entry.pw_uid, entry.pw_gid)
        with open(os.path.join(self.conf, "main.cf"), "w", encoding="utf-8") as f:
            f.write(self._main_cf())
        with open(os.path.join(self.conf, "master.cf"), "w", encoding="utf-8") as f:
            f.write(f"127.0.0.1:{self.port} inet n - n - - smtpd\n" + self.MASTER_CF)
        with open(os.path.join(self.conf, "vmailbox"), "w", encoding="utf-8") as f:
            f.writelines(f"{account(k)[0]} x\n" for k in range(1, self.users + 1))
        subprocess.run(["postfix", "-c", self.conf, "start"], check=True, capture_output=True, timeout=60)
        with open(os.path.join(self.queue, "pid", "master.pid"), encoding="utf-8") as f:
            self.pid = int(f.read().strip())
        STARTED.append(self)
        # The master is a session leader: its children (smtpd, cleanup, qmgr,
        # lmtp...) are in its process group, and it reaps them.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Postfix does not listen on {self.port}; see {self.dir}/maillog")

    def cpu(self):
        return group_cpu_seconds(self.pid)

    def stop(self):
        if self.pid is None:
            return
        subprocess.run(["postfix", "-c", self.conf, "stop"], capture_output=True, timeout=60)
        time.sleep(0.5)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.pid = None


class DovecotNode(Dovecot):
    """servers.py's Dovecot, as the mailbox node behind Postfix."""

    def cpu(self):
        return group_cpu_seconds(self.pid)

    def stop(self):
        super().stop()


class KotakMx:
    """`kotak serve` as MX and mailbox node in one process."""

    name = "Kotak"

    def __init__(self, work, binary, users, filters_toml=""):
        self.dir = os.path.join(work, "kotak")
        os.makedirs(self.dir, exist_ok=True)
        self.binary, self.users = binary, users
        self.config = os.path.join(self.dir, "kotak.toml")
        self.filters_toml = filters_toml
        self.proc = None
        self.ports = {}

    def settings(self):
        return {"version": subprocess.run([self.binary, "--version"], capture_output=True,
                                          text=True).stdout.strip(),
                "durability": "queue: RocksDB WAL synced (group commit) before 250; node: synced before LMTP 250",
                "delivery": "MX -> node's LMTP in the same process",
                "filters": "[mx.filters]" if self.filters_toml else "none"}

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(f'data_dir = "{self.dir}/data"\nhostname = "mx.{DOMAIN}"\nmax_connections = 2000\n'
                    'listen = ["lmtp=127.0.0.1:0", "imap=127.0.0.1:0", "smtp=127.0.0.1:0"]\n'
                    "[mx]\nmax_message_size = 52428800\nmax_recipients = 1000\n" + self.filters_toml)
        csv = os.path.join(self.dir, "accounts.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("address,password\n")
            f.writelines(f"{a},{p}\n" for a, p in (account(k) for k in range(1, self.users + 1)))
        done = subprocess.run([self.binary, "account", "import", csv, "--config", self.config, "--json"],
                              capture_output=True, text=True, timeout=600, env={**os.environ, "RUST_LOG": "warn"})
        if done.returncode != 0:
            raise RuntimeError(f"kotak account import: {done.stderr.strip()[-1500:]}")
        out = os.path.join(self.dir, "listening")
        with open(out, "wb") as o, open(os.path.join(self.dir, "server.log"), "ab") as e:
            self.proc = subprocess.Popen([self.binary, "serve", "--config", self.config], stdout=o, stderr=e,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")})
        STARTED.append(self)
        deadline = time.monotonic() + 60
        while not {"smtp", "imap", "lmtp"} <= set(self.ports):
            if self.proc.poll() is not None:
                raise RuntimeError(f"kotak serve exited ({self.proc.returncode}); see {self.dir}/server.log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kotak serve did not report smtp, imap and lmtp listeners; see {self.dir}")
            time.sleep(0.1)
            with open(out, encoding="utf-8") as f:
                for line in f:
                    words = line.split()
                    if len(words) == 3 and words[0] == "listening":
                        self.ports[words[1]] = int(words[2].rsplit(":", 1)[1])

    def cpu(self):
        return group_cpu_seconds(self.pid)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Path:
    """One way in: the MX's SMTP port, the IMAP port where mail becomes
    readable, and every process group doing the work."""

    def __init__(self, name, smtp_port, imap_port, procs):
        self.name, self.smtp_port, self.imap_port, self.procs = name, smtp_port, imap_port, procs

    def cpu(self):
        return {p.name: p.cpu() for p in self.procs}



def bench_smtp(o, kotak, path, rnd):
    """One `kotak bench smtp` run, end to end."""
    waited = settle_groups(path.procs)
    argv = [kotak, "bench", "smtp", "--target", f"127.0.0.1:{path.smtp_port}", "--imap",
            f"127.0.0.1:{path.imap_port}", "--users", str(o.users), "--clients", str(o.clients),
            "--messages", str(o.messages), "--duration", str(o.max_seconds), "--readable-timeout",
            str(o.readable_timeout), "--poll-ms", str(o.poll_ms), "--seed", str(rnd + 1), "--json"]
    if o.size:
        argv += ["--size", str(o.size)]
    for p in path.procs:
        argv += ["--pid", str(p.pid)]
    load = loadavg()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=o.max_seconds + o.readable_timeout + 300,
                          env={**os.environ, "RUST_LOG": "warn"})
    if done.returncode != 0:
        raise RuntimeError(f"kotak bench smtp against {path.name}: {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout)
    figures["cpu_by_process"] = dict(zip((p.name for p in path.procs), figures.get("server_cpu_s", [])))
    figures["loadavg_before"] = load
    figures["settle_s"] = waited
    figures["at"] = time.strftime("%H:%M:%S", time.gmtime())
    return figures


def inbox_counts(port, users):
    """MESSAGES of each user's INBOX, over one IMAP session each (logged in and left open)."""
    sessions = []
    for k in users:
        address, password = account(k)
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        imap.login(address, password)
        sessions.append(imap)
    return sessions


def status_messages(imap):
    typ, data = imap.status("INBOX", "(MESSAGES)")
    if typ != "OK":
        raise RuntimeError(f"STATUS: {data}")
    text = data[0].decode()
    return int(text.split("MESSAGES")[1].strip(" )"))


def bench_smtp_source(o, path):
    """Postfix's smtp-source: `procs` processes, each to its own recipient,
    with o.source_sessions sessions in all; msgs/s until the last one exits
    (accepted), and until the recipients' INBOXes hold them all (readable)."""
    waited = settle_groups(path.procs)
    procs = o.source_procs
    recipients = list(range(1, procs + 1))
    sessions = inbox_counts(path.imap_port, recipients)
    before = [status_messages(s) for s in sessions]
    per = o.source_messages // procs
    cpu0 = path.cpu()
    load = loadavg()
    t0 = time.monotonic()
    runs = [subprocess.Popen(["smtp-source", "-d", "-s", str(max(1, o.source_sessions // procs)), "-m", str(per),
                              "-l", str(o.source_size), "-M", "client.bench-source.test",
                              "-f", "sender@bench-source.test", "-t", account(k)[0], f"127.0.0.1:{path.smtp_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for k in recipients]
    errors = []
    for r in runs:
        try:
            _, err = r.communicate(timeout=o.max_seconds)
        except subprocess.TimeoutExpired:
            r.kill()
            _, err = r.communicate()
        if r.returncode != 0:
            errors.append(err.strip()[-300:])
    accepted_s = time.monotonic() - t0
    deadline = time.monotonic() + o.readable_timeout
    readable = 0
    while time.monotonic() < deadline:
        readable = sum(status_messages(s) - b for s, b in zip(sessions, before))
        if readable >= per * procs:
            break
        time.sleep(0.05)
    e2e_s = time.monotonic() - t0
    cpu1 = path.cpu()
    for s in sessions:
        s.logout()
    cpu = {k: round(cpu1[k] - cpu0[k], 3) for k in cpu0}
    total = sum(cpu.values())
    return {"messages": per * procs, "errors": errors, "seconds_accepted": round(accepted_s, 3),
            "accepted_per_second": round(per * procs / accepted_s, 1), "readable": readable,
            "seconds_end_to_end": round(e2e_s, 3), "end_to_end_per_second": round(readable / e2e_s, 1),
            "server_cpu_s": cpu, "server_cpu_ms_per_message": round(total * 1e3 / readable, 3) if readable else None,
            "loadavg_before": load, "settle_s": waited, "at": time.strftime("%H:%M:%S", time.gmtime())}


EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def probe_filters(path):
    """Sends the EICAR test file and the GTUBE test string through the MX
    once each: proof that its filters are on (both should be refused)."""
    out = {}
    for name, body in (("eicar", EICAR), ("gtube", GTUBE)):
        message = (f"From: probe@bench-source.test\r\nTo: {account(1)[0]}\r\nSubject: {name}\r\n"
                   f"Message-ID: <{name}.{time.time_ns()}@bench-source.test>\r\n\r\n{body}\r\n")
        try:
            with smtplib.SMTP("127.0.0.1", path.smtp_port, timeout=60) as c:
                c.sendmail("probe@bench-source.test", [account(1)[0]], message)
            out[name] = "250 accepted"
        except smtplib.SMTPResponseException as e:
            out[name] = f"{e.smtp_code} {e.smtp_error.decode(errors='replace')}"
        except smtplib.SMTPRecipientsRefused as e:
            out[name] = str(e.recipients)
        except smtplib.SMTPDataError as e:
            out[name] = f"{e.smtp_code} {e.smtp_error.decode(errors='replace')}"
    return out


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def report(res):
    lines = []
    say = lines.append
    o = res["options"]
    names = [n for n in ("Postfix", "Kotak") if n in res["runs"]]
    say(f"kotak bench smtp: {o['clients']} sessions, {o['messages']} messages per run "
        f"({'size ' + str(o['size']) if o['size'] else 'realistic size mix'}), {o['users']} accounts, "
        f"end to end over IMAP (poll {o['poll_ms']} ms); median of {len(res['runs'][names[0]]) if names else 0} round(s)")
    say(f"{'MX':<9} {'accepted/s':>10} {'e2e msg/s':>9} {'smtp p50':>8} {'p99':>7} {'readable p50':>12} {'p99':>7} "
        f"{'CPU ms/msg':>10} {'refused':>7} {'unread':>6} {'dup':>4} {'load':>15}")
    med = {}
    for n in names:
        rows = res["runs"][n]
        m = {k: median(r.get(k) for r in rows) for k in
             ("accepted_per_second", "end_to_end_per_second", "smtp_p50_ms", "smtp_p99_ms", "readable_p50_ms",
              "readable_p99_ms", "server_cpu_ms_per_message")}
        med[n] = m
        say(f"{n:<9} {fmt(m['accepted_per_second']):>10} {fmt(m['end_to_end_per_second']):>9} "
            f"{fmt(m['smtp_p50_ms'], 2):>8} {fmt(m['smtp_p99_ms'], 2):>7} {fmt(m['readable_p50_ms'], 1):>12} "
            f"{fmt(m['readable_p99_ms'], 1):>7} {fmt(m['server_cpu_ms_per_message'], 3):>10} "
            f"{sum(r.get('refused', 0) + r.get('io_errors', 0) for r in rows):>7} "
            f"{sum(r.get('unreadable', 0) for r in rows):>6} {sum(r.get('duplicates', 0) for r in rows):>4} "
            f"{rows[0].get('loadavg_before', ''):>15}")
    for n in names:
        for i, r in enumerate(res["runs"][n]):
            say(f"  {n} round {i + 1} at {r['at']} UTC: accepted {r['accepted']} at {fmt(r['accepted_per_second'])}/s, "
                f"readable {r.get('readable')} at {fmt(r.get('end_to_end_per_second'))}/s, CPU "
                + ", ".join(f"{k} {v:.2f} s" for k, v in r.get("cpu_by_process", {}).items())
                + f", IMAP polls {r.get('imap_polls')}, load before {r['loadavg_before']}")
    if len(med) == 2:
        k, p = med["Kotak"], med["Postfix"]
        ratio = lambda a, b: f"{a / b:.2f}" if a and b else "-"  # noqa: E731
        say(f"Kotak/Postfix: end-to-end msgs/s {ratio(k['end_to_end_per_second'], p['end_to_end_per_second'])} "
            f"(goal >= 3), accepted msgs/s {ratio(k['accepted_per_second'], p['accepted_per_second'])}, "
            f"CPU per message {ratio(k['server_cpu_ms_per_message'], p['server_cpu_ms_per_message'])}")
    for n, probe in res.get("filter_probe", {}).items():
        say(f"filters on {n}: " + "; ".join(f"{k}: {v}" for k, v in probe.items()))
    src = res.get("smtp_source", {})
    if src:
        say("")
        say(f"smtp-source: {o['source_procs']} processes x {max(1, o['source_sessions'] // o['source_procs'])} "
            f"sessions (-d: sessions kept), {o['source_messages']} messages of {o['source_size']} bytes, "
            "no PIPELINING; readable = INBOX counts over IMAP STATUS")
        say(f"{'MX':<9} {'accepted/s':>10} {'e2e msg/s':>9} {'CPU ms/msg':>10} {'errors':>6}")
        for n, rows in src.items():
            say(f"{n:<9} {fmt(median(r['accepted_per_second'] for r in rows)):>10} "
                f"{fmt(median(r['end_to_end_per_second'] for r in rows)):>9} "
                f"{fmt(median(r['server_cpu_ms_per_message'] for r in rows), 3):>10} "
                f"{sum(len(r['errors']) for r in rows):>6}")
    return "\n".join(lines)


def ensure_packages(filters):
    """Debian's Postfix (and, for --filters, rspamd, clamd and dnspython),
    installed when missing; their own daemons are kept from starting (the
    benchmark starts private instances) and Postfix is left unconfigured."""
    wanted = ["postfix", "dovecot-imapd", "dovecot-lmtpd"]
    if filters:
        wanted += ["rspamd", "clamav-daemon", "python3-dnspython"]
    missing = [p for p in wanted if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type select No configuration\n", check=True)
    policy = "/usr/sbin/policy-rc.d"
    made = not os.path.exists(policy)
    if made:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    finally:
        if made:
            os.remove(policy)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round of 1,000 messages")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--messages", type=int, help="messages per kotak bench smtp run (default 5,000)")
    ap.add_argument("--clients", type=int, default=32, help="SMTP sessions (default 32)")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--size", type=int, help="fixed message size (default: the corpus's realistic mix)")
    ap.add_argument("--poll-ms", type=int, default=100)
    ap.add_argument("--servers", default="postfix,kotak")
    ap.add_argument("--no-smtp-source", action="store_true")
    ap.add_argument("--filters", action="store_true", help="rspamd and clamd in front of both (filters.py)")
    ap.add_argument("--json-out")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    o = ap.parse_args()
    o.rounds = o.rounds or (1 if o.quick else 3)
    o.messages = o.messages or (1000 if o.quick else 5000)
    o.max_seconds = 300
    o.readable_timeout = 120
    o.source_procs = 4
    o.source_sessions = 16
    o.source_messages = 1000 if o.quick else 4000
    o.source_size = 8192
    if os.geteuid() != 0:
        sys.exit("smtp.py: run as root (Postfix and Dovecot start as root and drop to their users)")
    ensure_packages(o.filters)
    kotak = os.environ.get("KOTAK") or os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "kotak")
    if not os.path.exists(kotak):
        sys.exit(f"no kotak binary at {kotak}: build with `cargo build --release -p kotak` or set KOTAK")
    servers = o.servers.split(",")
    work = tempfile.mkdtemp(prefix="kotak-smtp-bench-")
    os.chmod(work, 0o755)
    log(f"work directory {work}; kotak {kotak}; load {loadavg()}")
    res = {"options": vars(o), "cores": os.cpu_count(), "runs": {}, "smtp_source": {}, "settings": {},
           "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    filters = None
    try:
        paths = []
        if o.filters:
            from filters import Filters  # noqa: PLC0415
            filters = Filters(work)
            filters.start()
            STARTED.append(filters)
            res["filters"] = filters.settings()
        if "postfix" in servers:
            dovecot = DovecotNode(work, o.users, "SHA512-CRYPT", "0", 500)
            dovecot.start()
            STARTED.append(dovecot)
            postfix = Postfix(work, o.users, dovecot.ports["lmtp"], filters.milter() if filters else None)
            postfix.start()
            res["settings"]["Postfix"] = postfix.settings()
            res["settings"]["Dovecot"] = dovecot.settings()
            procs = [postfix, dovecot] + (filters.for_path("Postfix") if filters else [])
            paths.append(Path("Postfix", postfix.port, dovecot.ports["imap"], procs))
            log(f"Postfix on {postfix.port} -> Dovecot LMTP {dovecot.ports['lmtp']}, IMAP {dovecot.ports['imap']}")
        if "kotak" in servers:
            k = KotakMx(work, kotak, o.users, filters.kotak_toml() if filters else "")
            try:
                k.start()
                res["settings"]["Kotak"] = k.settings()
                procs = [k] + (filters.for_path("Kotak") if filters else [])
                paths.append(Path("Kotak", k.ports["smtp"], k.ports["imap"], procs))
                log(f"Kotak MX on {k.ports['smtp']}, IMAP {k.ports['imap']}")
            except RuntimeError as e:
                log(f"Kotak's MX is not available: {e}")
                res["kotak_error"] = str(e)
        if filters:
            for p in paths:
                res.setdefault("filter_probe", {})[p.name] = probe_filters(p)
                log(f"filter probe {p.name}: {res['filter_probe'][p.name]}")
        for rnd in range(o.rounds):
            order = paths if rnd % 2 == 0 else list(reversed(paths))
            for p in order:
                log(f"round {rnd + 1}: kotak bench smtp -> {p.name} (load {loadavg()})")
                r = bench_smtp(o, kotak, p, rnd)
                log(f"  {p.name}: accepted {r['accepted_per_second']:.1f}/s, end to end "
                    f"{r.get('end_to_end_per_second', 0):.1f}/s, CPU {r.get('server_cpu_ms_per_message')} ms/msg")
                res["runs"].setdefault(p.name, []).append(r)
            if not o.no_smtp_source:
                for p in order:
                    log(f"round {rnd + 1}: smtp-source -> {p.name}")
                    r = bench_smtp_source(o, p)
                    log(f"  {p.name}: {r['accepted_per_second']}/s accepted, {r['end_to_end_per_second']}/s end to end")
                    res["smtp_source"].setdefault(p.name, []).append(r)
    finally:
        for p in reversed(STARTED):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001 - stop the others anyway
                log(f"stopping {p.name}: {e}")
        if o.json_out:
            with open(o.json_out, "w", encoding="utf-8") as f:
                json.dump(res, f, indent=1, default=str)
        print(f"\nInbound SMTP bench, {res['started']}, {res['cores']} cores; "
              + "; ".join(f"{k}: {v.get('version')}" for k, v in res["settings"].items()))
        if res["runs"]:
            print(report(res))
        if not o.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
