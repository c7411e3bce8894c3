#!/usr/bin/env bash
# Kotak vs Dovecot on this machine (see benches/README.md).
# Usage: benches/compare/run.sh [compare.py flags, e.g. --rounds 5 --idle 2000]
# Installs Dovecot's IMAP, POP3 and LMTP servers (and the argon2 tool that
# hashes Dovecot's passwords like Kotak's) from Debian's packages when
# missing (and, for the search scenario, tries dovecot-fts-xapian), builds
# Kotak (release; KOTAK=path skips the build), runs the comparison in a
# temporary directory and stops both servers on any exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: run as root (Dovecot is started as root and drops to its own users)" >&2
    exit 1
fi
need=()
for pkg in dovecot-imapd dovecot-pop3d dovecot-lmtpd argon2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "run.sh: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [[ "$*" == *search* || "$*" == *--dovecot-fts-autoindex* ]] && ! dpkg -s dovecot-fts-xapian >/dev/null 2>&1; then
    echo "run.sh: installing dovecot-fts-xapian for full-text search in Dovecot" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-fts-xapian >/dev/null; } ||
        echo "run.sh: dovecot-fts-xapian did not install; search runs without Dovecot+fts" >&2
fi
if [ -z "${KOTAK:-}" ]; then
    scripts/deps.sh
    . scripts/env.sh
    cargo build --release -p kotak
    KOTAK="$CARGO_TARGET_DIR/release/kotak"
fi
WORK="$(mktemp -d /tmp/kotak-compare.XXXXXX)"
# compare.py writes the pid of every server it starts (each leads its own
# process group) to $WORK/pids; whatever happens to it, they are stopped here.
cleanup() {
    if [ -f "$WORK/pids" ]; then
        while read -r pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done <"$WORK/pids"
        sleep 1
        while read -r pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done <"$WORK/pids"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 benches/compare/compare.py --kotak "$KOTAK" --work "$WORK" "$@"
