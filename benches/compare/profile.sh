#!/usr/bin/env bash
# Profiles Kotak under one `kotak bench` scenario: starts a throwaway node
# (release build; KOTAK=path skips the build) with USERS accounts, fills the
# mailboxes first for the pop3/imap/idle scenarios, samples the node with
# perf (cpu-clock: works where hardware counters are not exposed, as in VMs)
# while the scenario runs, and prints the hottest functions and source lines.
# Usage: benches/compare/profile.sh SCENARIO [`kotak bench SCENARIO` flags]
# e.g.   benches/compare/profile.sh lmtp --messages 5000 --size 4096
# Env:   USERS (100), FILL (4 KB messages delivered first, 2000),
#        PERF_DATA (where perf.data is kept; a temporary file by default).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
SCENARIO="$1"
shift
command -v perf >/dev/null || { echo "profile.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
if [ -z "${KOTAK:-}" ]; then
    scripts/deps.sh
    . scripts/env.sh
    cargo build --release -p kotak
    KOTAK="$CARGO_TARGET_DIR/release/kotak"
fi
USERS="${USERS:-100}"
FILL="${FILL:-2000}"
DATA="$(mktemp -d /tmp/kotak-profile.XXXXXX)"
PERF_DATA="${PERF_DATA:-$DATA.perf}"
cleanup() {
    [ -n "${PERF_PID:-}" ] && kill -INT "$PERF_PID" 2>/dev/null || true
    [ -n "${NODE:-}" ] && kill "$NODE" 2>/dev/null && wait "$NODE" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT
for i in $(seq 1 "$USERS"); do
    RUST_LOG=warn "$KOTAK" account add "user$i@bench.test" --password "pw$i" --data-dir "$DATA/data" >/dev/null
done
"$KOTAK" serve --data-dir "$DATA/data" --listen lmtp=127.0.0.1:0 --listen imap=127.0.0.1:0 \
    --listen pop3=127.0.0.1:0 >"$DATA/listening" 2>"$DATA/node.log" &
NODE=$!
port() { sed -n "s/^listening $1 127.0.0.1:\([0-9]*\)$/\1/p" "$DATA/listening"; }
for _ in $(seq 1 100); do
    [ -n "$(port pop3)" ] && break
    sleep 0.1
done
[ -n "$(port pop3)" ] || { echo "profile.sh: node did not start: $(cat "$DATA/node.log")" >&2; exit 1; }
case "$SCENARIO" in
    lmtp) PORT="$(port lmtp)" ;;
    pop3) PORT="$(port pop3)" ;;
    imap | idle) PORT="$(port imap)" ;;
    *) echo "profile.sh: unknown scenario $SCENARIO" >&2; exit 2 ;;
esac
EXTRA=()
[ "$SCENARIO" = idle ] && EXTRA=(--pid "$NODE")
if [ "$SCENARIO" != lmtp ] && [ "$FILL" -gt 0 ]; then
    "$KOTAK" bench lmtp --port "$(port lmtp)" --users "$USERS" --messages "$FILL" --size 4096 >/dev/null
fi
perf record -q -e cpu-clock -F 999 --call-graph dwarf,8192 -p "$NODE" -o "$PERF_DATA" 2>/dev/null &
PERF_PID=$!
sleep 1
"$KOTAK" bench "$SCENARIO" --port "$PORT" --users "$USERS" "${EXTRA[@]}" "$@"
kill -INT "$PERF_PID"
wait "$PERF_PID" || true
PERF_PID=
report() {
    perf report -i "$PERF_DATA" --stdio -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$' |
        sed -E 's/[ -]+$//; s/ {4,}/   /g'
}
echo
echo "== hottest functions (self time)"
report --no-children --sort symbol --percent-limit 1.5 | head -30
echo
echo "== hottest source lines (self time)"
report --no-children --sort srcline --percent-limit 1 | head -30
echo
echo "== Kotak's own functions, inclusive of what they call"
report --children --sort symbol --percent-limit 3 | grep -E 'kotak' | head -30
echo "perf data: $PERF_DATA"
