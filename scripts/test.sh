#!/usr/bin/env bash
# Runs the whole test suite: Rust unit and integration tests, then the
# end-to-end tests that drive a real `kotak serve` with Python's imaplib and
# smtplib (LMTP), curl and mbsync.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
. scripts/env.sh
cargo build --workspace --all-targets
cargo test --workspace
KOTAK_BIN="$CARGO_TARGET_DIR/debug/kotak" python3 -m pytest -q tests/
