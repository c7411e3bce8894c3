"""A name server for `smtp.py --filters` that answers every query NXDOMAIN
at once (this machine has no DNS; rspamd's SPF, DKIM, DMARC, block list and
fuzzy lookups must fail fast, not time out). dnsmasq's `--local=/#/`
answers are not accepted by rspamd 3.4's resolver (it reports them timed
out), so the answer is made here, with dnspython.

    python3 nxdns.py PORT"""

import socket
import sys

import dns.message
import dns.rcode


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    while True:
        data, peer = s.recvfrom(4096)
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - not a DNS query: no answer
            continue
        answer = dns.message.make_response(query)
        answer.set_rcode(dns.rcode.NXDOMAIN)
        s.sendto(answer.to_wire(), peer)


if __name__ == "__main__":
    main()
