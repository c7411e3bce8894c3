#!/usr/bin/env bash
# Compares two Kotak builds by loading both at the same time: two throwaway
# nodes (USERS accounts each) take the same 4 KB LMTP load at once, round
# after round, and each round prints both delivery rates, each node's CPU per
# delivered message (the time until it is quiet again included, so indexing
# that lags the round is counted) and B/A. Running the two side by side
# cancels most of what makes one build's runs drift on a shared VM (the
# other guests, the disk), which hides differences of 5-10% between
# separate runs.
# Usage: benches/compare/pair.sh KOTAK_A KOTAK_B [ROUNDS]
# Env:   USERS (100), MESSAGES (40000 per node and round, bounded by
#        ROUND_SECONDS, 8), CONFIG_A / CONFIG_B (a config file for that node,
#        e.g. one that sets `shards`; A and B may then be the same build).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
A="$1" B="$2" ROUNDS="${3:-5}"
USERS="${USERS:-100}" MESSAGES="${MESSAGES:-40000}" ROUND_SECONDS="${ROUND_SECONDS:-8}"
WORK="$(mktemp -d /tmp/kotak-pair.XXXXXX)"
NODES=()
cleanup() {
    for pid in "${NODES[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME BINARY CONFIG: a node in $WORK/NAME; its pid goes to NODES.
start() {
    local dir="$WORK/$1" bin="$2" config=()
    [ -n "$3" ] && config=(--config "$3")
    for i in $(seq 1 "$USERS"); do
        RUST_LOG=warn "$bin" account add "user$i@bench.test" --password "pw$i" "${config[@]}" --data-dir "$dir/data" >/dev/null
    done
    "$bin" serve "${config[@]}" --data-dir "$dir/data" --listen lmtp=127.0.0.1:0 >"$dir/listening" 2>"$dir/node.log" &
    NODES+=("$!")
}
port() { sed -n 's/^listening lmtp 127.0.0.1:\([0-9]*\)$/\1/p' "$WORK/$1/listening"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# quiet PID: waits (up to 30 s) until the node used under 2 ticks in half a second.
quiet() {
    local before after
    for _ in $(seq 1 60); do
        before=$(cpu_ticks "$1"); sleep 0.5; after=$(cpu_ticks "$1")
        [ $((after - before)) -lt 2 ] && return
    done
}

start a "$A" "${CONFIG_A:-}"
start b "$B" "${CONFIG_B:-}"
for _ in $(seq 1 100); do
    [ -n "$(port a)" ] && [ -n "$(port b)" ] && break
    sleep 0.1
done
[ -n "$(port a)" ] && [ -n "$(port b)" ] || { echo "pair.sh: a node did not start: $(cat "$WORK"/*/node.log)" >&2; exit 1; }
PA="${NODES[0]}" PB="${NODES[1]}"
load() { "$A" bench lmtp --port "$(port "$1")" --users "$USERS" --size 4096 --json "${@:2}"; }
load a --messages 2000 >/dev/null & LOAD=$!
load b --messages 2000 >/dev/null; wait "$LOAD"
quiet "$PA"; quiet "$PB"
echo "A: $A${CONFIG_A:+ ($CONFIG_A)}"
echo "B: $B${CONFIG_B:+ ($CONFIG_B)}"
for round in $(seq 1 "$ROUNDS"); do
    a0=$(cpu_ticks "$PA") b0=$(cpu_ticks "$PB")
    load a --messages "$MESSAGES" --time-limit "$ROUND_SECONDS" >"$WORK/a.json" &
    LOAD=$!
    load b --messages "$MESSAGES" --time-limit "$ROUND_SECONDS" >"$WORK/b.json"
    wait "$LOAD"
    quiet "$PA"; quiet "$PB"
    a1=$(cpu_ticks "$PA") b1=$(cpu_ticks "$PB")
    python3 - "$round" "$((a1 - a0))" "$((b1 - b0))" "$WORK/a.json" "$WORK/b.json" <<'EOF'
import json, os, sys
round_no, ticks_a, ticks_b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a, b = (json.load(open(p)) for p in sys.argv[4:6])
tick = 1e6 / os.sysconf("SC_CLK_TCK")
cost = lambda ticks, run: ticks * tick / max(run["operations"], 1)
print(f"round {round_no}: A {a['per_second']:,.0f} msg/s, {cost(ticks_a, a):.0f} us CPU/msg | "
      f"B {b['per_second']:,.0f} msg/s, {cost(ticks_b, b):.0f} us CPU/msg | B/A {b['per_second'] / a['per_second']:.3f}")
EOF
done
