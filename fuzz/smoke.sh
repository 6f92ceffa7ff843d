#!/usr/bin/env bash
# Fuzz smoke for CI: runs every cargo-fuzz target for a short while over the
# committed corpus and fails on any crash. Usage: fuzz/smoke.sh [SECONDS]
#
# cargo-fuzz needs nightly-only flags (the sanitizer); RUSTC_BOOTSTRAP=1
# lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version > /dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== building the fuzz targets"
cargo fuzz build

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in $(cargo fuzz list); do
    echo "== fuzzing $target for ${seconds}s"
    # New inputs go to a scratch folder: the committed corpus is only read.
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    if ! cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 > "$log" 2>&1; then
        tail -n 80 "$log" >&2
        echo "FAIL: fuzz target $target crashed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(INFO: seed corpus|stat::number_of_executed_units)' "$log" || true
done
echo "== fuzz smoke passed"
