#!/usr/bin/env bash
# Starts a throwaway Kotak node (release build) with USERS accounts, runs
# `kotak bench lmtp` against it, prints the figures and stops the node.
# Usage: scripts/bench-lmtp.sh [extra `kotak bench lmtp` flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
. scripts/env.sh
cargo build --release -p kotak
KOTAK="$CARGO_TARGET_DIR/release/kotak"
USERS="${USERS:-100}"
DATA="$(mktemp -d /tmp/kotak-bench.XXXXXX)"
LOG="$DATA.log"
cleanup() {
    [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$DATA" "$DATA.out"
}
trap cleanup EXIT
for i in $(seq 1 "$USERS"); do
    "$KOTAK" account add "user$i@bench.test" --password "pw$i" --data-dir "$DATA" >/dev/null
done
"$KOTAK" serve --data-dir "$DATA" --listen lmtp=127.0.0.1:0 >"$DATA.out" 2>"$LOG" &
PID=$!
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/^listening lmtp 127.0.0.1:\([0-9]*\)$/\1/p' "$DATA.out")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "node did not start; log: $LOG" >&2; exit 1; }
echo "cores: $(nproc); users: $USERS; data: $DATA"
"$KOTAK" bench lmtp --port "$PORT" --users "$USERS" "$@"
