#!/usr/bin/env bash
# Runs every ledger fuzz target for a bounded time (default 60 s each).
#
#   ledger/fuzz/run.sh [seconds]
#
# Only stable Rust is available, so nightly-only flags are unlocked with
# RUSTC_BOOTSTRAP=1. Installs cargo-fuzz if it is missing. Seeds each
# corpus with the golden transaction and block vectors. Exits non-zero on
# the first crash; the reproducer is left in artifacts/<target>/.
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target-ledger-fuzz}"

seed() {
    local name="$1" target="$2" hex
    hex="$(grep "^${name} " "$here/../tests/golden/vectors.txt" | cut -d' ' -f2)"
    mkdir -p "corpus/$target"
    printf '%b' "$(echo "$hex" | sed 's/../\\x&/g')" > "corpus/$target/golden-$name"
}
seed transaction decode_transaction
seed block decode_block

for target in decode_transaction decode_block; do
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048
done
echo "== all fuzz targets ran ${seconds}s without a crash"
