#!/usr/bin/env bash
# The directory bench (benches/directory.rs): provisioning into the embedded
# directory and into OpenLDAP, lookups through the cache and through to
# slapd, and a login storm. Builds release kotak and the bench, then runs it;
# the slapd servers are the bench's own (loopback, temporary directory).
#
#   benches/directory/run.sh                        # 25,000 accounts, ~5-10 minutes on 2 cores
#   KOTAK_BENCH_ACCOUNTS=2000 benches/directory/run.sh   # a quick run
#   KOTAK_BIN=/path/to/kotak benches/directory/run.sh    # skip building kotak
#
# Other settings: KOTAK_BENCH_STORM (2000), KOTAK_BENCH_STORM_SECS (10),
# KOTAK_BENCH_LOOKUP_SECS (10), KOTAK_BENCH_CONCURRENCY (1,16).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
scripts/deps.sh   # slapd and ldap-utils, when missing

if [ -z "${KOTAK_BIN:-}" ]; then
    cargo build --release -p kotak
    export KOTAK_BIN="$CARGO_TARGET_DIR/release/kotak"
fi
cargo bench -p kotak-benches --bench directory --no-run

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' + changes'), $(nproc) cores"
echo "slapd: $(/usr/sbin/slapd -VV 2>&1 | sed -n 's/.*slapd \([^ ]*\) .*/\1/p' | head -1)"
exec cargo bench -p kotak-benches --bench directory
