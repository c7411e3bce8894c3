"""The spam and virus filters of `smtp.py --filters`, the same for both MXs,
all on loopback and started by the run:

- nxdns.py answering every name NXDOMAIN at once: this machine has no
  DNS, and rspamd's lookups (SPF, DKIM, DMARC, DNS block lists, fuzzy
  servers) must fail fast rather than time out.
- clamd (Debian's) with a one-line signature database made here (the
  EICAR test string as a body signature): no downloaded signatures, so
  scanning costs what clamd's engine costs on this mail, not what the full
  ClamAV database would.
- Two rspamd (Debian's) instances from the packaged configuration with
  only ports, paths, logging, the name server, worker counts (one per
  core), actions (no greylisting: it needs redis) and DKIM signing (off)
  changed: one for Kotak
  (its normal worker, asked over HTTP `/checkv2`; Kotak asks clamd itself
  over INSTREAM), one for Postfix (the `rspamd_proxy` worker in milter mode
  with `self_scan = yes`, as many processes as Kotak's rspamd has normal
  workers: one per core; its antivirus module asking the same clamd for
  the whole message, `scan_mime_parts = false`). Two instances, so that
  neither MX's mail is scanned by clamd twice.

The CPU of each of these process groups is counted with the MX that uses
it (clamd and the name server with both: only one MX runs at a time)."""

import os
import pwd
import signal
import subprocess
import sys
import time

from servers import free_port, wait_for_port
from quiet import group_cpu_seconds

EICAR_HEX = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR".hex()


class Proc:
    """A filter process in its own process group."""

    def __init__(self, name, argv, workdir):
        self.name, self.argv, self.workdir = name, argv, workdir
        self.proc = None

    def start(self):
        with open(os.path.join(self.workdir, f"{self.name}.log"), "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def cpu(self):
        return group_cpu_seconds(self.pid)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


class Filters:
    """The name server, clamd and the two rspamd instances."""

    name = "filters"

    def __init__(self, work):
        self.dir = os.path.join(work, "filters")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.ports = {k: free_port() for k in ("dns", "clamd", "kotak_normal", "kotak_controller",
                                              "postfix_normal", "postfix_controller", "postfix_milter")}
        self.started = []

    def settings(self):
        rspamd = subprocess.run(["rspamd", "--version"], capture_output=True, text=True).stdout.strip()
        clamd = subprocess.run(["clamd", "--version"], capture_output=True, text=True).stdout.strip()
        return {"rspamd": rspamd, "clamd": clamd + " (one-signature database)",
                "dns": "nxdns.py, NXDOMAIN for every name",
                "rspamd actions": "greylist off (no redis), add_header 6, reject 15; dkim_signing off"}

    def milter(self):
        """Postfix's smtpd_milters value."""
        return f"inet:127.0.0.1:{self.ports['postfix_milter']}"

    def kotak_toml(self):
        """The `[mx.filters]` tables for Kotak's MX: rspamd and clamd as
        rspamd's milter has them for Postfix (reject at rspamd's reject
        action, mark at add_header, a filter outage a temporary failure);
        SPF, DKIM, DMARC and ARC are left to rspamd, as for Postfix."""
        p = self.ports
        return (f'[mx.filters]\ndns_servers = ["127.0.0.1:{p["dns"]}"]\n'
                f'[mx.filters.rspamd]\nurl = "http://127.0.0.1:{p["kotak_normal"]}"\n'
                f'on_spam = "reject"\non_error = "tempfail"\n'
                f'[mx.filters.clamd]\naddr = "127.0.0.1:{p["clamd"]}"\non_error = "tempfail"\n')

    def start(self):
        self._dns()
        self._clamd()
        kotak = self._rspamd("kotak", milter=False)
        postfix = self._rspamd("postfix", milter=True)
        self.by_path = {"Kotak": [kotak, self.clamd, self.dns], "Postfix": [postfix, self.clamd, self.dns]}

    def for_path(self, name):
        """The filter processes the MX called `name` uses."""
        return self.by_path[name]

    def _dns(self):
        here = os.path.dirname(os.path.abspath(__file__))
        d = Proc("nxdns", [sys.executable, os.path.join(here, "nxdns.py"), str(self.ports["dns"])], self.dir).start()
        self.started.append(d)
        self.dns = d
        time.sleep(0.3)
        if d.proc.poll() is not None:
            raise RuntimeError(f"nxdns.py exited; see {self.dir}/nxdns.log")

    def _clamd(self):
        db = os.path.join(self.dir, "clamdb")
        os.makedirs(db, exist_ok=True)
        with open(os.path.join(db, "bench.ndb"), "w", encoding="utf-8") as f:
            f.write(f"Bench.EICAR-Test:0:*:{EICAR_HEX}\n")
        conf = os.path.join(self.dir, "clamd.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"Foreground yes\nTCPSocket {self.ports['clamd']}\nTCPAddr 127.0.0.1\nDatabaseDirectory {db}\n"
                    f"LogFile {self.dir}/clamd-own.log\nPidFile {self.dir}/clamd.pid\nUser root\n"
                    "StreamMaxLength 50M\nMaxThreads 12\n")
        self.clamd = Proc("clamd", ["clamd", "--config-file", conf], self.dir).start()
        self.started.append(self.clamd)
        wait_for_port(self.ports["clamd"], 60, self.clamd.proc)

    def _rspamd(self, which, milter):
        d = os.path.join(self.dir, f"rspamd-{which}")
        local, override = os.path.join(d, "local.d"), os.path.join(d, "override.d")
        for sub in (local, override, os.path.join(d, "db"), os.path.join(d, "run")):
            os.makedirs(sub, exist_ok=True)
        p = self.ports
        # As many scanning processes in both: the normal workers Kotak asks,
        # the self-scanning milter proxies Postfix asks.
        cores = os.cpu_count() or 1
        files = {
            os.path.join(override, "worker-normal.inc"):
                f'bind_socket = "127.0.0.1:{p[which + "_normal"]}";\ncount = {cores};\n',
            os.path.join(override, "worker-controller.inc"):
                f'bind_socket = "127.0.0.1:{p[which + "_controller"]}";\ncount = 1;\n',
            os.path.join(local, "options.inc"):
                f'dns {{\n  nameserver = ["127.0.0.1:{p["dns"]}"];\n  timeout = 1s;\n  retransmits = 1;\n}}\n',
            # Greylisting needs redis (none here); the rest as Debian ships it.
            os.path.join(local, "actions.conf"): "greylist = null;\nadd_header = 6;\nreject = 15;\n",
            # Mail from loopback is not ours to sign.
            os.path.join(local, "dkim_signing.conf"): "enabled = false;\n",
            os.path.join(override, "logging.inc"): f'type = "file";\nfilename = "{d}/rspamd.log";\nlevel = "warning";\n',
        }
        if milter:
            files[os.path.join(override, "worker-proxy.inc")] = (
                f'bind_socket = "127.0.0.1:{p[which + "_milter"]}";\nmilter = yes;\ntimeout = 120s;\n'
                f'upstream "local" {{\n  default = yes;\n  self_scan = yes;\n}}\ncount = {cores};\n')
            files[os.path.join(local, "antivirus.conf")] = (
                f'clamav {{\n  action = "reject";\n  type = "clamav";\n  servers = "127.0.0.1:{p["clamd"]}";\n'
                '  symbol = "CLAM_VIRUS";\n  scan_mime_parts = false;\n  log_clean = false;\n}\n')
        else:
            files[os.path.join(override, "worker-proxy.inc")] = "enabled = false;\ncount = 0;\n"
        for path, text in files.items():
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        entry = pwd.getpwnam("_rspamd")
        for root, dirs, names in os.walk(d):
            for n in dirs + names + ["."]:
                os.chown(os.path.join(root, n), entry.pw_uid, entry.pw_gid)
        argv = ["rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf",
                f"--var=LOCAL_CONFDIR={d}", f"--var=DBDIR={d}/db", f"--var=RUNDIR={d}/run", f"--var=LOGDIR={d}"]
        r = Proc(f"rspamd-{which}", argv, self.dir).start()
        self.started.append(r)
        wait_for_port(p[which + "_normal"], 60, r.proc)
        if milter:
            wait_for_port(p[which + "_milter"], 60, r.proc)
        return r

    def stop(self):
        for p in reversed(self.started):
            p.stop()
