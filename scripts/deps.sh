#!/usr/bin/env bash
# Installs what building and testing Kotak needs on Debian 12, when missing:
# libclang for the RocksDB bindings, the real mail clients the tests drive,
# and OpenLDAP (slapd, ldap-utils), whose servers the tests start themselves
# (testkit/src/slapd.rs), and memcached for the route cache's tests
# (testkit/src/memcached.rs), and iproute2 for the multi-node topology test
# (tools/kotak/tests/topology.rs: network namespaces), and for the inbound
# MX's tests: swaks (a real SMTP client), rspamd and clamd (the spam and
# virus filters, started by the tests with their own configuration and a
# signature file they write) and dnsmasq (a DNS server for SPF, DKIM and
# DMARC records), plus dkimpy to sign test mail. Package scripts are kept
# from starting daemons (policy-rc.d): the tests start their own.
set -euo pipefail

need=()
for pkg in libclang1-14 libclang-common-14-dev isync curl fetchmail openssl offlineimap3 slapd ldap-utils memcached iproute2 swaks rspamd clamav-daemon dnsmasq-base; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "deps: installing ${need[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # Without this slapd asks for a domain and sets up a system directory.
    echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
    [ -z "$made_policy" ] || $SUDO rm -f "$policy"
fi
# Debian's own slapd daemon (port 389) is not wanted; its postinst may have
# started one.  Tests' servers write no pid file there.
if [ -e /run/slapd/slapd.pid ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO service slapd stop >/dev/null 2>&1 || true
fi
if ! python3 -c 'import pytest, dkim' 2>/dev/null; then
    echo "deps: installing pytest and dkimpy" >&2
    python3 -m pip install -q pytest dkimpy dnspython
fi
