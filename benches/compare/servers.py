"""The servers under comparison, each a throwaway instance on loopback
ports with its data in the run's work directory and the same accounts:
userK@DOMAIN with password pwK, K in 1..users, plus any extra accounts a
scenario asks for (the search scenario's one big mailbox). A second Dovecot
with the fts-xapian full-text plugin can serve the first one's mail.

Both are started in their own process group and their pids are written to
WORK/pids, so the caller's trap can stop them even if this process dies."""

import grp
import os
import pwd
import signal
import socket
import subprocess
import time

DOMAIN = "bench.test"
MAIL_USER = "kotakbench"


def account(k):
    """The address and password of account k."""
    return f"user{k}@{DOMAIN}", f"pw{k}"


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds, proc):
    """Waits until something accepts connections on `port`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


class Server:
    """A server process started by this run, with the accounts it serves:
    `users` numbered ones and `extra` (address, password) pairs."""

    name = "server"

    def __init__(self, work, users, extra):
        self.work = work
        self.users = users
        self.extra = list(extra)
        self.dir = os.path.join(work, self.name.lower())
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.ports = {}

    def accounts(self):
        """Every (address, password) this server is set up with."""
        return [account(k) for k in range(1, self.users + 1)] + self.extra

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _spawn(self, argv, stdout):
        log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(argv, stdout=stdout, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        with open(os.path.join(self.work, "pids"), "a", encoding="utf-8") as f:
            f.write(f"{self.proc.pid}\n")

    def start(self):
        """Sets up the accounts and data, then starts the process."""
        self.prepare()
        self.launch()

    def restart(self):
        """A new process on the same data: memory measurements start clean."""
        self.stop()
        self.launch()

    def stop(self):
        """SIGTERM, then SIGKILL to the process group after 15 s."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        try:
            # Children a master left behind (Dovecot's sessions) go too.
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}; "
                               f"log: {os.path.join(self.dir, 'server.log')}")


class Kotak(Server):
    """`kotak serve` from the release build."""

    name = "Kotak"

    def __init__(self, work, binary, users, max_connections, extra=()):
        super().__init__(work, users, extra)
        self.binary = binary
        self.data_dir = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "kotak.toml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(f'data_dir = "{self.data_dir}"\n'
                    f"max_connections = {max_connections}\n")

    def settings(self):
        return {
            "version": subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout.strip(),
            "passwords": "Argon2id m=19456 KiB, t=2, p=1 (argon2 crate default)",
            "auth cache": "verified logins cached 1 h (keyed digest; dropped on password change)",
            "durability": "WAL fdatasync before every 250/OK (group commit)",
            "processes": "one (async, all cores)",
        }

    def prepare(self):
        quiet = {**os.environ, "RUST_LOG": "warn"}
        for address, password in self.accounts():
            subprocess.run([self.binary, "account", "add", address, "--password", password,
                            "--config", self.config], check=True, stdout=subprocess.DEVNULL, env=quiet)

    def launch(self, timeout=60, poll=0.1):
        """Starts `kotak serve` and waits (checking every `poll` seconds)
        until it has reported every listener; returns the seconds taken."""
        self.ports = {}
        listening = os.path.join(self.dir, "listening")
        start = time.monotonic()
        with open(listening, "wb") as out:
            self._spawn([self.binary, "serve", "--config", self.config, "--listen", "lmtp=127.0.0.1:0",
                         "--listen", "imap=127.0.0.1:0", "--listen", "pop3=127.0.0.1:0"], out)
        while len(self.ports) < 3:
            self.check_alive()
            if time.monotonic() - start > timeout:
                raise RuntimeError("kotak serve did not report its listeners")
            time.sleep(poll)
            with open(listening, encoding="utf-8") as f:
                for line in f:
                    words = line.split()
                    if len(words) == 3 and words[0] == "listening":
                        self.ports[words[1]] = int(words[2].rsplit(":", 1)[1])
        return round(time.monotonic() - start, 3)


# `--dovecot-scheme` value giving Dovecot Argon2id hashes with Kotak's cost
# (memory KiB, passes, lanes: the argon2 crate's defaults, which Kotak uses).
SAME_AS_KOTAK = "ARGON2ID-KOTAK"
KOTAK_ARGON2 = (19456, 2, 1)


class Dovecot(Server):
    """Dovecot from Debian's packages, run as root with its own config, base
    and state directories, delivering to maildirs owned by MAIL_USER."""

    name = "Dovecot"

    def __init__(self, work, users, scheme, auth_cache_size, max_connections, extra=(), fts_autoindex=False):
        super().__init__(work, users, extra)
        self.scheme = scheme
        self.auth_cache_size = auth_cache_size
        self.max_connections = max_connections
        # Index for full-text search as mail arrives (fts-xapian,
        # fts_autoindex), as Kotak does: the same work on both sides.
        self.fts_autoindex = fts_autoindex
        self.config = os.path.join(self.dir, "dovecot.conf")
        self.mail = os.path.join(self.dir, "mail")
        self.passwd = os.path.join(self.dir, "passwd")

    def settings(self):
        version = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
        return {
            "version": version,
            "passwords": ("Argon2id m={} KiB, t={}, p={} (argon2 tool), the same as Kotak's".format(*KOTAK_ARGON2)
                          if self.scheme == SAME_AS_KOTAK else f"{self.scheme} (doveadm pw)") + ", passwd-file",
            "auth cache": f"auth_cache_size = {self.auth_cache_size}"
                          + (" (no cache, Dovecot's default)" if self.auth_cache_size in ("0", 0) else ""),
            "durability": "mail_fsync = optimized (Dovecot's default), maildir",
            "processes": "login in high-performance mode (service_count = 0), one imap/pop3 process per session",
            **({"full text": "fts-xapian (partial=3 full=20), fts_autoindex = yes: new mail indexed as it arrives"}
               if self.fts_autoindex else {}),
        }

    def home(self, address):
        """The account's home directory, which is also its maildir."""
        local, domain = address.split("@")
        return os.path.join(self.mail, domain, local)

    def _hash(self, password):
        """The passwd-file form of `password` under this server's scheme."""
        if self.scheme == SAME_AS_KOTAK:
            # Dovecot verifies an Argon2id hash with the cost written in it,
            # so both servers pay the same for a password check.
            m, t, p = KOTAK_ARGON2
            salt = os.urandom(12).hex()
            encoded = subprocess.run(["argon2", salt, "-id", "-k", str(m), "-t", str(t), "-p", str(p), "-e"],
                                     input=password, check=True, capture_output=True, text=True).stdout.strip()
            return "{ARGON2ID}" + encoded
        return subprocess.run(["doveadm", "pw", "-s", self.scheme, "-p", password],
                              check=True, capture_output=True, text=True).stdout.strip()

    def _passwd(self, uid, gid):
        lines = []
        for address, password in self.accounts():
            hashed = self._hash(password)
            lines.append(f"{address}:{hashed}:{uid}:{gid}::{self.home(address)}::\n")
        with open(self.passwd, "w", encoding="utf-8") as f:
            f.writelines(lines)
        # Dovecot's auth process reads it as its internal user.
        os.chown(self.passwd, 0, grp.getgrnam("dovecot").gr_gid)
        os.chmod(self.passwd, 0o640)

    def plugin_settings(self):
        """Settings a variant adds at the end of the config."""
        return xapian_settings(autoindex=True) if self.fts_autoindex else ""

    def _config(self, uid, gid):
        d, passwd, mail = self.dir, self.passwd, self.mail
        cores = os.cpu_count() or 1
        limit = self.max_connections
        return f"""# Throwaway Dovecot for `benches/compare`: loopback only, no TLS.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/server.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = {self.auth_cache_size}
mail_location = maildir:{mail}/%d/%n
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_fsync = optimized
mail_max_userip_connections = {limit}
default_client_limit = {limit}
passdb {{
  driver = passwd-file
  args = scheme={self.scheme} {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.ports["imap"]}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = 0
  process_min_avail = {cores}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.ports["pop3"]}
  }}
  inet_listener pop3s {{
    port = 0
  }}
  service_count = 0
  process_min_avail = {cores}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.ports["lmtp"]}
  }}
}}
service imap {{
  process_limit = {limit}
}}
service pop3 {{
  process_limit = {limit}
}}
protocol lmtp {{
  postmaster_address = postmaster@{DOMAIN}
}}
""" + self.plugin_settings()

    def prepare(self):
        ensure_mail_user()
        entry = pwd.getpwnam(MAIL_USER)
        uid, gid = entry.pw_uid, entry.pw_gid
        os.makedirs(self.mail, exist_ok=True)
        os.chown(self.mail, uid, gid)
        for path in (self.work, self.dir):
            os.chmod(path, 0o755)
        self._passwd(uid, gid)
        self._write_config(uid, gid)

    def _write_config(self, uid, gid):
        self.ports = {p: free_port() for p in ("lmtp", "imap", "pop3")}
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(self._config(uid, gid))

    def launch(self):
        self._spawn(["dovecot", "-F", "-c", self.config], subprocess.DEVNULL)
        for port in self.ports.values():
            wait_for_port(port, 30, self.proc)


def xapian_settings(autoindex):
    """Dovecot settings loading fts-xapian; with `autoindex`, mail is
    indexed as it is delivered or appended rather than at the first search."""
    return f"""mail_plugins = $mail_plugins fts fts_xapian
plugin {{
  fts = xapian
  fts_xapian = partial=3 full=20
  fts_autoindex = {"yes" if autoindex else "no"}
  fts_enforced = yes
}}
service indexer-worker {{
  vsz_limit = 0
}}
"""


class DovecotFts(Dovecot):
    """A second Dovecot serving the first one's accounts and maildirs, with
    the fts-xapian full-text plugin (Debian's dovecot-fts-xapian); its
    index is built by `doveadm index` (see `index`) before it is timed."""

    name = "Dovecot+fts"
    PLUGIN = "/usr/lib/dovecot/modules/lib21_fts_xapian_plugin.so"

    def __init__(self, plain):
        super().__init__(plain.work, plain.users, plain.scheme, plain.auth_cache_size, plain.max_connections,
                         plain.extra)
        self.mail, self.passwd = plain.mail, plain.passwd

    @classmethod
    def available(cls):
        """Whether the plugin is installed."""
        return os.path.exists(cls.PLUGIN)

    def settings(self):
        return {**super().settings(),
                "full text": "fts-xapian (partial=3 full=20, no autoindex; index built by doveadm index), "
                             "same maildirs as Dovecot"}

    def plugin_settings(self):
        return xapian_settings(autoindex=False)

    def prepare(self):
        entry = pwd.getpwnam(MAIL_USER)
        os.chmod(self.dir, 0o755)
        self._write_config(entry.pw_uid, entry.pw_gid)

    def index(self, address, mailbox="INBOX"):
        """Builds the account's full-text index of `mailbox` now; returns
        the seconds it took."""
        t0 = time.monotonic()
        done = subprocess.run(["doveadm", "-c", self.config, "index", "-u", address, mailbox],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm index -u {address} {mailbox} failed: {done.stderr.strip()}")
        return time.monotonic() - t0

    def index_bytes(self, address):
        """Bytes of the account's xapian index on disk."""
        return tree_bytes(os.path.join(self.home(address), "xapian-indexes"))


def tree_bytes(path):
    """Bytes of the files under `path` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


def ensure_mail_user():
    """Creates the system user Dovecot's mail processes run as, if missing."""
    try:
        pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", MAIL_USER], check=True)
