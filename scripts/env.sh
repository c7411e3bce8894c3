# Sourced by the other scripts: where cargo builds (outside the clone, so a
# fresh clone reuses the cache) and where the built binary is.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kotak/target}"
mkdir -p "$CARGO_TARGET_DIR"
