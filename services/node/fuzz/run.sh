#!/usr/bin/env bash
# Runs every p2p fuzz target for a bounded time (default 60 s each).
#
#   services/node/fuzz/run.sh [seconds]
#
# Only stable Rust is available, so nightly-only flags are unlocked with
# RUSTC_BOOTSTRAP=1. Installs cargo-fuzz if it is missing. Seeds the corpus
# with a few valid frames (Ping, GetPeers, Disconnect). Exits non-zero on
# the first crash; the reproducer is left in artifacts/<target>/.
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target-node-fuzz}"

seed() {
    local target="$1" name="$2" hex="$3"
    mkdir -p "corpus/$target"
    printf '%b' "$(echo "$hex" | sed 's/../\\x&/g')" > "corpus/$target/seed-$name"
}
# u32 LE payload length, then the canonical message (u32 LE variant tag, fields).
seed decode_frame ping     0c000000010000000700000000000000
seed decode_frame getpeers 0400000003000000
seed decode_frame banned   080000000c00000002000000
seed decode_frame two      040000000300000004000000030000000c000000020000000100000000000000

for target in decode_frame; do
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048
done
echo "== all fuzz targets ran ${seconds}s without a crash"
