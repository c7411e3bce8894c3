"""The `auth_http` endpoint nginx's mail proxy asks before every login
(run by `proxy.py` as a process of its own, so that its CPU is counted
apart from nginx's): `python3 proxy_auth.py PORT ROUTES_FILE`.

ROUTES_FILE holds `ADDRESS IMAP_PORT POP3_PORT` lines, and a `* IMAP_PORT
POP3_PORT` line for every other address. The answer is always `Auth-Status:
OK` with the home node's address: the password is not checked here but by
the node, which nginx logs in to with the user's own password (as the Kotak
proxy's node does for a direct login)."""

import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    routes = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        user = self.headers.get("Auth-User", "")
        proto = self.headers.get("Auth-Protocol", "imap")
        imap, pop3 = self.routes.get(user) or self.routes["*"]
        self.send_response(200)
        self.send_header("Auth-Status", "OK")
        self.send_header("Auth-Server", "127.0.0.1")
        self.send_header("Auth-Port", str(pop3 if proto == "pop3" else imap))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    # nginx opens one connection per login: the default backlog of 5 would
    # drop SYNs under load and make logins wait seconds for a retransmit.
    request_queue_size = 4096
    daemon_threads = True


def main():
    port, routes_file = int(sys.argv[1]), sys.argv[2]
    with open(routes_file, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if len(words) == 3:
                Handler.routes[words[0]] = (int(words[1]), int(words[2]))
    server = Server(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
