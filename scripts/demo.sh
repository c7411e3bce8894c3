#!/usr/bin/env bash
# Builds Kotak and runs the whole topology on this machine (`kotak up`): the
# routing proxy on 127.0.0.1:1143 (IMAP) and 127.0.0.1:1110 (POP3), five
# mailbox nodes and demo accounts, with its data in $KOTAK_DEMO_DIR
# (default /tmp/kotak-demo). It prints every listener, the demo accounts
# with their passwords and homes, and `ready`; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
. scripts/env.sh
cargo build --release -p kotak
exec "$CARGO_TARGET_DIR/release/kotak" up --data-dir "${KOTAK_DEMO_DIR:-/tmp/kotak-demo}"
