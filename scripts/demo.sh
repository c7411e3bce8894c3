#!/usr/bin/env bash
# Builds Kotak, creates a demo account and serves IMAP on 127.0.0.1:1143 and
# LMTP on 127.0.0.1:2424 from a data directory in /tmp/kotak-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
. scripts/env.sh
cargo build --release -p kotak
KOTAK="$CARGO_TARGET_DIR/release/kotak"
DATA="${KOTAK_DEMO_DIR:-/tmp/kotak-demo}"
if ! "$KOTAK" account list --data-dir "$DATA" | grep -q '^demo@example.test'; then
    "$KOTAK" account add demo@example.test --data-dir "$DATA"
else
    echo "demo@example.test exists in $DATA (reset its password with: $KOTAK account passwd demo@example.test --password NEW --data-dir $DATA)"
fi
echo "IMAP: 127.0.0.1:1143 (user demo@example.test; STARTTLS with the self-signed certificate in $DATA/tls/selfsigned.crt)"
echo "POP3: 127.0.0.1:1110 (STLS with the self-signed certificate in $DATA/tls/selfsigned.crt)"
echo "LMTP: 127.0.0.1:2424 (deliver with: swaks --protocol LMTP --server 127.0.0.1:2424 --to demo@example.test)"
exec "$KOTAK" serve --data-dir "$DATA" --listen imap=127.0.0.1:1143 --listen lmtp=127.0.0.1:2424 --listen pop3=127.0.0.1:1110
