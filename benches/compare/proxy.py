#!/usr/bin/env python3
"""Kotak's routing proxy: its cost over a direct connection, against nginx's
mail proxy, per idle connection, and for logins over many accounts.

    python3 benches/compare/proxy.py [--seconds N] [--quick] [--json-out FILE]

Run as root (nginx's packages are installed when missing; the open-file
limit is raised for 10,000 idle connections). Processes, all on loopback:

- `node1`: `kotak serve` as a mailbox node (`node_name = "node1"`,
  `[auth.proxy]` trusting 127.0.0.0/8 with a secret made per run), its own
  embedded directory holding the accounts `userK@bench.test` / `pwK`
  (Argon2id), home node1, mail filled over LMTP.
- `kotak-proxy`: `kotak serve` with a `[proxy]` table in front of node1, its
  own embedded directory with the same accounts (imported the same way),
  in-process route cache: a process of its own, so its CPU and memory are
  its own.
- `nginx`: Debian's nginx with the mail module in front of node1, two
  workers (`worker_processes auto` on 2 cores), `auth_http` answered by
  `proxy_auth.py` (a process of its own, counted apart); nginx logs in to
  node1 with the user's own password.
- `kotak up` (scenario 4): 5 nodes + proxy + embedded directory in one
  process, with bulk-imported accounts.

Every load run is bounded in time and count; server CPU is read from
/proc for each process group (the way quiet.py reads them) before and
after each run."""

import argparse
import base64
import hashlib
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from quiet import group_cpu_seconds, settle_groups  # noqa: E402

DOMAIN = "bench.test"
NGINX_PACKAGES = ["nginx-light", "libnginx-mod-mail"]
MAIL_MODULES = ["/usr/lib/nginx/modules/ngx_mail_module.so", "/usr/share/nginx/modules/ngx_mail_module.so"]
STARTED = []  # every process started, stopped at exit


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds, proc):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def raise_open_files():
    """As many open files as allowed (root may raise the hard limit)."""
    want = 65536
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ensure_nginx():
    """Debian's nginx with the mail module, installed when missing."""
    missing = [p for p in NGINX_PACKAGES
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        log(f"installing {' '.join(missing)}")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    for m in MAIL_MODULES:
        if os.path.exists(m):
            return m
    raise RuntimeError("ngx_mail_module.so not found")


class Proc:
    """A process in its own process group (pgid = pid), stdout to a file."""

    def __init__(self, name, argv, workdir, env=None):
        self.name, self.argv, self.workdir = name, argv, workdir
        self.env = env
        self.proc = None
        self.out = os.path.join(workdir, f"{name}.out")

    def start(self):
        with open(self.out, "wb") as out, open(os.path.join(self.workdir, f"{self.name}.err"), "ab") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=self.env)
        STARTED.append(self)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def lines(self):
        with open(self.out, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()

    def wait_line(self, pred, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.out} and .err")
            for line in self.lines():
                if pred(line):
                    return line
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no expected line after {seconds} s")

    def cpu(self):
        return group_cpu_seconds(self.pid)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def tree_rss_kb(pid):
    """VmRSS summed over the process and its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                    stat = f.read()
                children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry))
            except (OSError, ValueError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total



# --- the Kotak processes -------------------------------------------------------------------

class Bench:
    def __init__(self, opts, work, kotak):
        self.o, self.work, self.kotak = opts, work, kotak
        self.secret = secrets.token_hex(16)
        self.ports = {k: free_port() for k in ("n_imap", "n_pop3", "n_lmtp", "p_imap", "p_pop3",
                                              "x_imap", "x_pop3", "auth")}
        self.results = {}

    def run_kotak(self, args, check=True, timeout=600):
        done = subprocess.run([self.kotak, *args], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "RUST_LOG": "warn"})
        if check and done.returncode != 0:
            raise RuntimeError(f"kotak {' '.join(args)}: {done.stderr.strip()[-2000:]}")
        return done

    def bench(self, args, timeout):
        done = self.run_kotak(["bench", *args, "--json"], timeout=timeout)
        return json.loads(done.stdout)

    def write_configs(self):
        p = self.ports
        d = self.work
        self.node_conf = os.path.join(d, "node1.toml")
        with open(self.node_conf, "w", encoding="utf-8") as f:
            f.write(f'data_dir = "{d}/node1"\nnode_name = "node1"\nmax_connections = 30000\n'
                    f'listen = ["imap=127.0.0.1:{p["n_imap"]}", "pop3=127.0.0.1:{p["n_pop3"]}", '
                    f'"lmtp=127.0.0.1:{p["n_lmtp"]}"]\n'
                    f'[auth.proxy]\nsecret = "{self.secret}"\nnetworks = ["127.0.0.0/8"]\n')
        self.proxy_conf = os.path.join(d, "proxy.toml")
        with open(self.proxy_conf, "w", encoding="utf-8") as f:
            threads = f"worker_threads = {self.o.proxy_threads}\n" if self.o.proxy_threads else ""
            f.write(f'data_dir = "{d}/proxy"\nmax_connections = 30000\n{threads}'
                    f'listen = ["imap=127.0.0.1:{p["p_imap"]}", "pop3=127.0.0.1:{p["p_pop3"]}"]\n'
                    f'[proxy]\n[proxy.nodes.node1]\nimap = "127.0.0.1:{p["n_imap"]}"\n'
                    f'pop3 = "127.0.0.1:{p["n_pop3"]}"\n'
                    f'[auth.proxy]\nsecret = "{self.secret}"\n')
        csv = os.path.join(d, "accounts.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("address,password,node\n")
            for k in range(1, self.o.users + 1):
                f.write(f"user{k}@{DOMAIN},pw{k},node1\n")
        for conf in (self.node_conf, self.proxy_conf):
            t0 = time.monotonic()
            self.run_kotak(["account", "import", csv, "--config", conf, "--json"])
            log(f"imported {self.o.users} accounts for {os.path.basename(conf)} in {time.monotonic() - t0:.1f} s")

    def start_node(self):
        self.node = Proc("node1", [self.kotak, "serve", "--config", self.node_conf], self.work).start()
        for port in ("n_imap", "n_pop3", "n_lmtp"):
            wait_for_port(self.ports[port], 60, self.node.proc)

    def start_proxy(self):
        self.proxy = Proc("kotak-proxy", [self.kotak, "serve", "--config", self.proxy_conf], self.work).start()
        for port in ("p_imap", "p_pop3"):
            wait_for_port(self.ports[port], 60, self.proxy.proc)

    # --- nginx ---------------------------------------------------------------------------

    def write_nginx(self, module, buffer_size):
        p = self.ports
        d = os.path.join(self.work, "nginx")
        os.makedirs(d, exist_ok=True)
        routes = os.path.join(d, "routes")
        with open(routes, "w", encoding="utf-8") as f:
            f.write(f"* {p['n_imap']} {p['n_pop3']}\n")
        self.auth_argv = [sys.executable, os.path.join(HERE, "proxy_auth.py"), str(p["auth"]), routes]
        self.nginx_conf = os.path.join(d, "nginx.conf")
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.module = module
        buffer = f"  proxy_buffer {buffer_size};\n" if buffer_size else ""
        with open(self.nginx_conf, "w", encoding="utf-8") as f:
            f.write(f"""load_module {module};
worker_processes auto;
worker_rlimit_nofile {self.nofile};
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 30000; }}
mail {{
  auth_http 127.0.0.1:{p['auth']}/auth;
  proxy on;
  proxy_pass_error_message on;
{buffer}  imap_capabilities "IMAP4rev1" "IDLE" "LITERAL+" "SASL-IR";
  imap_auth plain login;
  pop3_capabilities "TOP" "USER" "UIDL";
  pop3_auth plain;
  server {{ listen 127.0.0.1:{p['x_imap']}; protocol imap; }}
  server {{ listen 127.0.0.1:{p['x_pop3']}; protocol pop3; }}
}}
""")
        self.nginx_dir = d

    def start_nginx(self):
        self.auth = Proc("auth_http", self.auth_argv, self.work).start()
        self.auth.wait_line(lambda l: l == "ready", 20)
        self.nginx = Proc("nginx", ["nginx", "-c", self.nginx_conf, "-p", self.nginx_dir + "/", "-e",
                                    os.path.join(self.nginx_dir, "error.log")], self.work).start()
        for port in ("x_imap", "x_pop3"):
            wait_for_port(self.ports[port], 30, self.nginx.proc)

    def nginx_workers(self):
        n = 0
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                        stat = f.read()
                    if int(stat[stat.rindex(")") + 2:].split()[2]) == self.nginx.pid and "worker" in open(
                            f"/proc/{entry}/cmdline", encoding="utf-8", errors="replace").read():
                        n += 1
                except (OSError, ValueError):
                    pass
        return n

    # --- load ----------------------------------------------------------------------------

    def servers(self):
        return [s for s in (self.node, self.proxy, getattr(self, "nginx", None), getattr(self, "auth", None)) if s]

    def login_everyone(self, port):
        import imaplib
        for k in range(1, self.o.users + 1):
            with imaplib.IMAP4("127.0.0.1", port, timeout=30) as imap:
                imap.login(f"user{k}@{DOMAIN}", f"pw{k}")
                imap.logout()

    def measured(self, args, timeout):
        """One bench run with every server's CPU around it."""
        settle_groups(self.servers(), 30)
        before = {s.name: s.cpu() for s in self.servers()}
        t0 = time.monotonic()
        figures = self.bench(args, timeout)
        wall = time.monotonic() - t0
        cpu = {s.name: round(s.cpu() - before[s.name], 3) for s in self.servers()}
        return {"figures": figures, "cpu": cpu, "wall": round(wall, 2)}

    def overhead(self):
        """Loaded runs (throughput, CPU per op) and one-client runs (added latency)."""
        o, p = self.o, self.ports
        targets = [("direct", "n"), ("kotak-proxy", "p"), ("nginx", "x")]
        kinds = {
            "imap": lambda port: (["imap", "--port", str(port), "--users", str(o.users), "--clients",
                                   str(o.imap_clients), "--seconds", str(o.seconds)], o.seconds + 120),
            "pop3": lambda port: (["pop3", "--port", str(port), "--users", str(o.users), "--concurrency",
                                   str(o.pop3_clients), "--messages", "1000000", "--time-limit", str(o.seconds)],
                                  o.seconds + 120),
            "imap-1": lambda port: (["imap", "--port", str(port), "--users", str(o.users), "--clients", "1",
                                     "--seconds", str(o.latency_seconds)], o.latency_seconds + 120),
            "pop3-1": lambda port: (["pop3", "--port", str(port), "--users", str(o.users), "--concurrency", "1",
                                     "--messages", "1000000", "--time-limit", str(o.latency_seconds)],
                                    o.latency_seconds + 120),
        }
        runs = {t: {k: [] for k in list(kinds) + ["login"]} for t, _ in targets}
        accounts = [(f"user{k}@{DOMAIN}", f"pw{k}") for k in range(1, o.users + 1)] * o.login_repeat
        for rnd in range(o.rounds):
            for kind, argv in kinds.items():
                proto = kind.split("-")[0]
                for name, key in targets:
                    log(f"round {rnd + 1}: {kind} via {name}")
                    args, timeout = argv(p[f"{key}_{proto}"])
                    runs[name][kind].append(self.measured(args, timeout))
            for name, key in targets:
                log(f"round {rnd + 1}: login storm via {name}")
                settle_groups(self.servers(), 30)
                before = {s.name: s.cpu() for s in self.servers()}
                r = login_storm(p[f"{key}_imap"], accounts, 8, o.seconds)
                cpu = {s.name: round(s.cpu() - before[s.name], 3) for s in self.servers()}
                runs[name]["login"].append({"figures": r, "cpu": cpu})
        self.results["overhead"] = runs

    def idle(self):
        o, p = self.o, self.ports
        out = {}
        # nginx as shipped (proxy_buffer one page): a bigger buffer would be charged to it here.
        self.write_nginx(self.module, self.o.idle_nginx_buffer)
        for name, key in (("direct", "n"), ("kotak-proxy", "p"), ("nginx", "x")):
            # Fresh processes for each path: memory that an earlier run freed but the
            # allocator kept would hide the growth.
            for s in (self.proxy, self.nginx, self.auth, self.node):
                s.stop()
            self.start_node()
            self.start_proxy()
            self.start_nginx()
            proc = {"n": self.node, "p": self.proxy, "x": self.nginx}[key]
            # Verified logins are cached: the password checks (Argon2id, 19 MiB each) happen
            # here, and their buffers are given back, before memory is read.
            self.login_everyone(p[f"{key}_imap"])
            # A small idle round first: mimalloc gives freed memory back on later
            # allocations, so without it the measured round starts by shrinking.
            self.bench(["idle", "--port", str(p[f"{key}_imap"]), "--users", str(o.users), "--connections",
                        str(max(50, o.idle // 5)), "--concurrency", "50", "--hold", "1", "--time-limit",
                        str(o.idle_seconds)], o.idle_seconds + 300)
            settle_groups(self.servers(), 30)
            stable = wait_rss_stable(proc.pid, 60)
            log(f"idle via {name}: {o.idle} connections (RSS stable after {stable} s)")
            before = {s.name: s.cpu() for s in self.servers()}
            node_before = tree_rss_kb(self.node.pid)
            try:
                figures = self.bench(["idle", "--port", str(p[f"{key}_imap"]), "--users", str(o.users),
                                      "--connections", str(o.idle), "--concurrency", "50", "--pid", str(proc.pid),
                                      "--hold", "2", "--time-limit", str(o.idle_seconds)], o.idle_seconds + 300)
            except (RuntimeError, json.JSONDecodeError, subprocess.TimeoutExpired) as e:
                figures = {"error": str(e)[-500:]}
            out[name] = {"figures": figures, "node_rss_growth_kb": tree_rss_kb(self.node.pid) - node_before,
                         "rss_wait_s": stable,
                         "cpu": {s.name: round(s.cpu() - before[s.name], 3) for s in self.servers()}}
        self.results["idle"] = out


def wait_rss_stable(pid, limit):
    """Waits until the process tree's RSS changes by under 256 KiB over 3 s."""
    start = time.monotonic()
    last, steady = tree_rss_kb(pid), 0
    while time.monotonic() - start < limit and steady < 3:
        time.sleep(1)
        now = tree_rss_kb(pid)
        steady = steady + 1 if abs(now - last) < 256 else 0
        last = now
    return round(time.monotonic() - start, 1)


# --- scenario 4: kotak up and many logins ----------------------------------------------------

def ssha(password):
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def login_storm(port, accounts, threads, seconds):
    """Every account logs in once over IMAP (LOGIN, LOGOUT), `threads` at a
    time, for at most `seconds`. Returns logins, failures, seconds, p50 ms."""
    lock = threading.Lock()
    index = [0]
    ok, failed, lat = [0], [0], []
    deadline = time.monotonic() + seconds

    def worker():
        while time.monotonic() < deadline:
            with lock:
                i = index[0]
                index[0] += 1
            if i >= len(accounts):
                return
            addr, pw = accounts[i]
            t0 = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    f = s.makefile("rb")
                    f.readline()
                    s.sendall(f"a LOGIN {addr} {pw}\r\n".encode())
                    while True:
                        line = f.readline()
                        if not line or line.startswith(b"a "):
                            break
                    good = line.startswith(b"a OK")
                    s.sendall(b"b LOGOUT\r\n")
                    while True:
                        line2 = f.readline()
                        if not line2 or line2.startswith(b"b "):
                            break
            except OSError:
                good = False
            dt = time.monotonic() - t0
            with lock:
                if good:
                    ok[0] += 1
                    lat.append(dt)
                else:
                    failed[0] += 1

    t0 = time.monotonic()
    cpu0 = os.times()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    cpu1 = os.times()
    lat.sort()
    return {"logins": ok[0], "failed": failed[0], "seconds": round(wall, 2),
            "per_second": round(ok[0] / wall, 1) if wall else 0,
            "p50_ms": round(lat[len(lat) // 2] * 1000, 2) if lat else None,
            "client_cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 2)}


class Up:
    def __init__(self, opts, work, kotak):
        self.o, self.work, self.kotak = opts, work, kotak
        self.dir = os.path.join(work, "up")
        self.results = {}

    def topology(self, memcached=None):
        path = os.path.join(self.work, "up.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f'data_dir = "{self.dir}"\nnodes = 5\ndemo_accounts = {self.o.demo_accounts}\n'
                    f'demo_domain = "demo.test"\n[proxy]\nimap = "127.0.0.1:0"\npop3 = "127.0.0.1:0"\n')
            if memcached:
                f.write(f'[route_cache]\nmemcached = ["127.0.0.1:{memcached}"]\n')
        return path

    def start(self, memcached=None):
        t0 = time.monotonic()
        proc = Proc("kotak-up", [self.kotak, "up", "--config", self.topology(memcached)], self.work,
                    env={**os.environ, "RUST_LOG": "warn"}).start()
        proc.wait_line(lambda l: l == "ready", 900)
        ready = time.monotonic() - t0
        imap = next(l.split()[3] for l in proc.lines() if l.startswith("listening proxy imap"))
        self.proc, self.imap_port = proc, int(imap.rsplit(":", 1)[1])
        return round(ready, 2)

    def storm(self, label, accounts):
        settle_groups([self.proc], 30)
        cpu0 = self.proc.cpu()
        r = login_storm(self.imap_port, accounts, self.o.login_threads, self.o.login_seconds)
        r["server_cpu_s"] = round(self.proc.cpu() - cpu0, 2)
        r["server_cpu_ms_per_login"] = round(r["server_cpu_s"] * 1000 / r["logins"], 3) if r["logins"] else None
        log(f"logins {label}: {r}")
        self.results[label] = r

    def run(self):
        o = self.o
        log(f"kotak up, first start ({o.demo_accounts} demo accounts, Argon2id)")
        self.results["ready_first_s"] = self.start()
        csv = os.path.join(self.work, "logins.csv")
        accounts = [(f"login{i}@logins.test", f"lp{i}") for i in range(1, o.logins + 1)]
        with open(csv, "w", encoding="utf-8") as f:
            f.write("address,password_hash,node\n")
            for i, (a, pw) in enumerate(accounts):
                f.write(f"{a},{ssha(pw)},node{i % 5 + 1}\n")
        t0 = time.monotonic()
        done = subprocess.run([self.kotak, "account", "import", csv, "--data-dir", self.dir, "--json"],
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"import: {done.stderr[-2000:]}")
        self.results["import"] = {"accounts": o.logins, "seconds": round(time.monotonic() - t0, 1),
                                  "summary": done.stdout.strip()[-300:]}
        log(f"imported {o.logins} accounts: {self.results['import']}")
        self.proc.stop()
        self.results["ready_again_s"] = self.start()
        log(f"ready again in {self.results['ready_again_s']} s")
        self.storm("in-process cold", accounts)
        self.storm("in-process warm", accounts)
        self.proc.stop()
        if shutil.which("memcached"):
            mport = free_port()
            mc = Proc("memcached", ["memcached", "-p", str(mport), "-U", "0", "-u", "root", "-l", "127.0.0.1",
                                    "-m", "256", "-c", "4096"], self.work).start()
            wait_for_port(mport, 10, mc.proc)
            self.start(mport)
            self.storm("memcached cold", accounts)
            self.storm("memcached warm", accounts)
            self.proc.stop()
            self.start(mport)
            self.storm("memcached warm, proxy restarted", accounts)
            self.proc.stop()
            mc.stop()


# --- report -------------------------------------------------------------------------------

def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def imap_commands(fig):
    return sum(r["count"] for r in fig.get("commands", [])) or fig.get("operations", 0)


def command_p50(fig, command):
    return next((c["p50_ms"] for c in fig.get("commands", []) if c["command"] == command), None)


def summarize(runs, kind, target):
    """Medians over rounds of one kind of run through one path. CPU: us per
    IMAP command or per POP3 RETR; `front` is the proxy's own (0 direct)."""
    rows = runs[target][kind]
    out = {}
    if kind == "login":
        out["throughput"] = median(r["figures"].get("per_second") for r in rows)
        out["unit"] = "logins/s"
        out["p50_ms"] = median(r["figures"].get("p50_ms") for r in rows)
        ops = [r["figures"].get("logins") or 0 for r in rows]
        out["errors"] = sum(r["figures"].get("failed") or 0 for r in rows)
    elif kind.startswith("imap"):
        out["throughput"] = median(r["figures"].get("cycles_per_second") for r in rows)
        out["commands/s"] = median(r["figures"].get("ops_per_second") for r in rows)
        out["unit"] = "cycles/s"
        for c in ("LOGIN", "SELECT", "FETCH", "STORE", "APPEND"):
            out[f"{c} p50_ms"] = median(command_p50(r["figures"], c) for r in rows)
        out["p50_ms"] = out["FETCH p50_ms"]
        ops = [imap_commands(r["figures"]) for r in rows]
        out["errors"] = sum((r["figures"].get("io_errors") or 0) + (r["figures"].get("refused") or 0)
                            + (r["figures"].get("state_errors") or 0) for r in rows)
    else:
        out["throughput"] = median(r["figures"].get("per_second") for r in rows)
        out["unit"] = "RETR/s"
        out["p50_ms"] = median(r["figures"].get("p50_ms") for r in rows)
        ops = [r["figures"].get("operations") or 0 for r in rows]
        out["errors"] = sum((r["figures"].get("errors") or 0) for r in rows)
    out["ops"] = ops
    cpu_total, cpu_front, cpu_auth = [], [], []
    for r, n in zip(rows, ops):
        if not n:
            continue
        c = r["cpu"]
        front = {"direct": 0, "kotak-proxy": c.get("kotak-proxy", 0), "nginx": c.get("nginx", 0)}[target]
        cpu_front.append(front * 1e6 / n)
        cpu_total.append((front + c.get("node1", 0)) * 1e6 / n)
        cpu_auth.append(c.get("auth_http", 0) * 1e6 / n if target == "nginx" else 0)
    out["cpu_us_per_op_total"] = median(cpu_total)
    out["cpu_us_per_op_front"] = median(cpu_front)
    out["cpu_us_per_op_auth_http"] = median(cpu_auth)
    return out


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def minus(a, b):
    return None if a is None or b is None else a - b


def report(res):
    lines = []
    say = lines.append
    runs = res.get("overhead")
    if runs:
        o = res["options"]
        say(f"## 1-2. Proxy overhead: median of {o['rounds']} round(s); CPU in us per IMAP command / per POP3 RETR")
        say(f"   imap: {o['imap_clients']} clients x {o['seconds']} s; pop3: {o['pop3_clients']} clients, "
            f"{o['seconds']} s; imap-1 / pop3-1: one client, {o['latency_seconds']} s (latency unloaded)")
        say(f"{'run':<7} {'path':<12} {'throughput':>16} {'cmds/s':>7} {'p50 ms':>7} {'added':>7} "
            f"{'proxy CPU':>9} {'+node':>7} {'auth_http':>9} {'errors':>6}")
        summary = {}
        for kind in ("imap", "pop3", "imap-1", "pop3-1", "login"):
            for target in ("direct", "kotak-proxy", "nginx"):
                s = summarize(runs, kind, target)
                summary[(kind, target)] = s
                d = summary[(kind, "direct")]
                tp = f"{s['throughput']:.1f} {s['unit']}" if s["throughput"] is not None else "-"
                say(f"{kind:<7} {target:<12} {tp:>16} {fmt(s.get('commands/s'), 0):>7} {fmt(s['p50_ms'], 3):>7} "
                    f"{fmt(minus(s['p50_ms'], d['p50_ms']), 3):>7} {fmt(s['cpu_us_per_op_front'], 1):>9} "
                    f"{fmt(s['cpu_us_per_op_total'], 1):>7} {fmt(s['cpu_us_per_op_auth_http'], 1):>9} "
                    f"{s['errors']:>6}")
        say("(imap p50 = FETCH of the last 10 messages; pop3 p50 = RETR; login = IMAP connect+LOGIN+LOGOUT by 8 python"
            " threads over the 100 accounts, CPU per login; 'added' = p50 minus direct's)")
        for kind in ("imap", "imap-1"):
            say(f"{kind} per-command p50 ms:")
            for target in ("direct", "kotak-proxy", "nginx"):
                s = summary[(kind, target)]
                say(f"   {target:<12} " + ", ".join(f"{c} {fmt(s[f'{c} p50_ms'], 3)}"
                                                    for c in ("LOGIN", "SELECT", "FETCH", "STORE", "APPEND")))
        res["summary"] = {f"{k[0]} {k[1]}": v for k, v in summary.items()}
        say("")
        say("Ratios:")
        for proto in ("imap", "pop3"):
            k, d, n = summary[(proto, "kotak-proxy")], summary[(proto, "direct")], summary[(proto, "nginx")]
            k1, d1, n1 = (summary[(f"{proto}-1", t)] for t in ("kotak-proxy", "direct", "nginx"))
            say(f"  {proto}: throughput Kotak proxy/direct {fmt(ratio(k['throughput'], d['throughput']), 3)} "
                f"(goal >= 0.9), Kotak proxy/nginx {fmt(ratio(k['throughput'], n['throughput']), 3)}; "
                f"added p50 with one client: Kotak {fmt(minus(k1['p50_ms'], d1['p50_ms']), 3)} ms (goal < 0.1), "
                f"nginx {fmt(minus(n1['p50_ms'], d1['p50_ms']), 3)} ms; proxy's own CPU per op Kotak/nginx "
                f"{fmt(ratio(k['cpu_us_per_op_front'], n['cpu_us_per_op_front']), 3)}, "
                f"proxy+node CPU per op Kotak/direct {fmt(ratio(k['cpu_us_per_op_total'], d['cpu_us_per_op_total']), 3)}")
        if summary[("imap-1", "kotak-proxy")].get("LOGIN p50_ms") is not None:
            k1, d1, n1 = (summary[("imap-1", t)] for t in ("kotak-proxy", "direct", "nginx"))
            say(f"  imap LOGIN added p50 (one client): Kotak {fmt(minus(k1['LOGIN p50_ms'], d1['LOGIN p50_ms']), 3)} ms, "
                f"nginx {fmt(minus(n1['LOGIN p50_ms'], d1['LOGIN p50_ms']), 3)} ms")
    idle = res.get("idle")
    if idle:
        say("")
        say("## 3. Idle connections (KiB per connection of the process named; RSS)")
        say(f"{'path':<12} {'idling':>7} {'errors':>6} {'RSS KiB/conn':>12} {'marginal':>9} {'PSS KiB/conn':>12} "
            f"{'node KiB/conn':>13} {'setup conn/s':>12} {'setup p99 ms':>12}")
        per = {}
        for name in ("direct", "kotak-proxy", "nginx"):
            f = idle[name]["figures"]
            if "error" in f:
                say(f"{name:<12} error: {f['error'][:200]}")
                continue
            n = f.get("idling") or 0
            node = idle[name]["node_rss_growth_kb"] / n if n else None
            per[name] = f.get("rss_kb_per_connection")
            say(f"{name:<12} {n:>7} {f.get('errors'):>6} {fmt(f.get('rss_kb_per_connection'), 2):>12} "
                f"{fmt(f.get('marginal_rss_kb_per_connection'), 2):>9} {fmt(f.get('pss_kb_per_connection'), 2):>12} "
                f"{fmt(node, 2):>13} {fmt(f.get('connections_per_second'), 0):>12} {fmt(f.get('setup_p99_ms'), 1):>12}")
        marg = {k: idle[k]["figures"].get("marginal_rss_kb_per_connection") for k in idle}
        say(f"Ratio Kotak proxy/nginx KiB per connection: {fmt(ratio(per.get('kotak-proxy'), per.get('nginx')), 3)}, "
            f"marginal {fmt(ratio(marg.get('kotak-proxy'), marg.get('nginx')), 3)} (goal < 1)")
        say("(RSS of the process named: node1 for direct, the proxy process, nginx master+workers; node KiB/conn: "
            "node1's growth while the connections went through; nginx proxy_buffer: "
            f"{res['options']['idle_nginx_buffer'] or 'default'})")
    up = res.get("up")
    if up:
        say("")
        say(f"## 4. kotak up (5 nodes + proxy, one process): {up.get('import', {}).get('accounts')} "
            "accounts imported ({SSHA} hashes), IMAP LOGIN+LOGOUT through the proxy")
        say(f"ready: first start {up.get('ready_first_s')} s ({res['options']['demo_accounts']} demo accounts hashed "
            f"with Argon2id), restart with all accounts present {up.get('ready_again_s')} s; "
            f"import {up.get('import', {}).get('seconds')} s")
        say(f"{'route cache':<34} {'logins':>7} {'failed':>6} {'logins/s':>9} {'p50 ms':>7} {'server CPU ms/login':>20}"
            f" {'client CPU s':>12}")
        for label, r in up.items():
            if isinstance(r, dict) and "logins" in r:
                say(f"{label:<34} {r['logins']:>7} {r['failed']:>6} {r['per_second']:>9} {fmt(r['p50_ms'], 2):>7} "
                    f"{fmt(r['server_cpu_ms_per_login'], 3):>20} {r['client_cpu_s']:>12}")
    return "\n".join(lines)


def fmt(x, digits):
    return "-" if x is None else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=None, help="seconds of each IMAP run (POP3: at most 3x)")
    ap.add_argument("--quick", action="store_true", help="smaller: 1 round, 2,000 idle, 5,000 login accounts")
    ap.add_argument("--scenarios", default="overhead,idle,up")
    ap.add_argument("--nginx-buffer", default="64k",
                    help="nginx proxy_buffer for the load runs (default 64k: with nginx's one page, every response "
                         "longer than a page waits ~40 ms for a delayed ACK, as its mail proxy sets no TCP_NODELAY; "
                         "'' for nginx's default)")
    ap.add_argument("--idle-nginx-buffer", default="", help="nginx proxy_buffer for the idle run (default: nginx's)")
    ap.add_argument("--idle", type=int, help="idle connections (default 10,000; --quick 2,000)")
    ap.add_argument("--logins", type=int, help="accounts for the login scenario (default 25,000; --quick 5,000)")
    ap.add_argument("--proxy-threads", type=int, default=1,
                    help="the Kotak proxy's worker_threads (default 1: it shares the 2 cores with node1 and the "
                         "load client; 0: one per core)")
    ap.add_argument("--json-out")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    o = ap.parse_args()
    q = o.quick
    o.seconds = o.seconds or (5 if q else 15)
    o.rounds = 1 if q else 3
    o.users = 100
    o.imap_clients = 50
    o.pop3_clients = 16
    o.latency_seconds = 3 if q else 8
    o.login_repeat = 100
    o.fill = 30
    o.idle = o.idle or (2000 if q else 10000)
    o.idle_seconds = 120 if q else 400
    o.logins = o.logins or (5000 if q else 25000)
    o.demo_accounts = 50 if q else 200
    o.login_threads = 16
    o.login_seconds = 60 if q else 180
    kotak = os.environ.get("KOTAK") or os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "kotak")
    if not os.path.exists(kotak):
        sys.exit(f"no kotak binary at {kotak}: build with `cargo build --release -p kotak` or set KOTAK")
    nofile = raise_open_files()
    if nofile < 2 * o.idle + 1000:
        o.idle = max(100, (nofile - 1000) // 2)
        log(f"open files limited to {nofile}: {o.idle} idle connections")
    module = ensure_nginx()
    work = tempfile.mkdtemp(prefix="kotak-proxy-bench-")
    log(f"work directory {work}; kotak {kotak}")
    res = {"options": vars(o), "cores": os.cpu_count(), "open_files": nofile,
           "kotak": subprocess.run([kotak, "--version"], capture_output=True, text=True).stdout.strip(),
           "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()}
    scen = o.scenarios.split(",")
    try:
        b = Bench(o, work, kotak)
        if "overhead" in scen or "idle" in scen:
            b.write_configs()
            b.write_nginx(module, o.nginx_buffer)
            b.start_node()
            log(f"filling node1: {o.users * o.fill} messages of 4 KB")
            b.bench(["lmtp", "--port", str(b.ports["n_lmtp"]), "--users", str(o.users), "--messages",
                     str(o.users * o.fill), "--size", "4096", "--concurrency", "16", "--multi-recipient-share", "0",
                     "--time-limit", "120"], 300)
            b.start_proxy()
            b.start_nginx()
            deadline = time.monotonic() + 5
            while b.nginx_workers() == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            res["nginx_workers"] = b.nginx_workers()
            log("logging every account in once (direct, Kotak proxy, nginx)")
            for port in ("n_imap", "p_imap", "x_imap"):
                b.login_everyone(b.ports[port])
            if "overhead" in scen:
                b.overhead()
            if "idle" in scen:
                b.idle()
            res.update(b.results)
            for s in b.servers():
                s.stop()
        if "up" in scen:
            u = Up(o, work, kotak)
            try:
                u.run()
            finally:
                res["up"] = u.results
    finally:
        for p in reversed(STARTED):
            p.stop()
        if o.json_out:
            with open(o.json_out, "w", encoding="utf-8") as f:
                json.dump(res, f, indent=1, default=str)
        text = report(res)
        print(f"\nKotak routing proxy bench: {res['kotak']}, {res['nginx']} "
              f"(worker_processes auto = {res.get('nginx_workers', '?')} workers), {res['cores']} cores, "
              f"open files {nofile}; nginx proxy_buffer {o.nginx_buffer or 'default'} (idle run: "
              f"{o.idle_nginx_buffer or 'default'}); Kotak proxy worker_threads "
              f"{o.proxy_threads or 'one per core'}; {o.rounds} round(s)\n")
        print(text)
        if not o.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
