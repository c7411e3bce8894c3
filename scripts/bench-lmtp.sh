#!/usr/bin/env bash
# Starts a throwaway Kotak node (release build) with USERS accounts, runs
# `kotak bench lmtp` against it, prints the figures and the node's CPU per
# delivered message (the indexing after the bench included), and stops the
# node.
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
    rm -rf "$DATA" "$DATA.out" "$DATA.bench"
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
# The node's CPU (user + system, in clock ticks) from /proc, read around the
# bench and again once the node is quiet: the indexing a delivery causes
# runs after its 250, so the figure per message counts both.
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
BEFORE=$(ticks)
"$KOTAK" bench lmtp --port "$PORT" --users "$USERS" "$@" | tee "$DATA.bench"
AFTER=$(ticks)
QUIET=$AFTER
for _ in $(seq 1 120); do
    sleep 1
    NOW=$(ticks)
    [ $((NOW - QUIET)) -le 1 ] && { QUIET=$NOW; break; }
    QUIET=$NOW
done
COUNT=$(awk '$1 == "operations" {print $2}' "$DATA.bench")
awk -v b="$BEFORE" -v a="$AFTER" -v q="$QUIET" -v n="$COUNT" -v hz="$HZ" 'BEGIN {
    printf "server CPU ms/message  %.3f in the bench, %.3f until quiet (indexing), %.3f in all\n",
        (a - b) * 1000 / hz / n, (q - a) * 1000 / hz / n, (q - b) * 1000 / hz / n }'
