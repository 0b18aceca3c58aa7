#!/usr/bin/env bash
# Fuzz every wire target for SECONDS each (default 60): `make fuzz`.
#
# With cargo-fuzz installed (`cargo install cargo-fuzz`), the targets run under libFuzzer,
# coverage-guided: with AddressSanitizer on a nightly toolchain, with `--sanitizer none` on
# stable. Without it, the same targets run through the stable mutation driver (cargo test).
# Needs PYO3_PYTHON and LD_LIBRARY_PATH as the Makefile sets them (the crate links libpython).
set -euo pipefail

seconds=${1:-60}
cd "$(dirname "$0")/../rust/fuzz"
targets=$(basename -s .rs fuzz_targets/*.rs)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed (cargo install cargo-fuzz): the stable driver instead"
    PAYWIRE_FUZZ_SECONDS=$seconds cargo test --release --lib fuzz_ -- --test-threads=1 --nocapture
    exit 0
fi

toolchain=() sanitizer=none
if cargo +nightly --version >/dev/null 2>&1; then
    toolchain=(+nightly) sanitizer=address
fi
echo "cargo-fuzz ${toolchain[*]:-(stable)}, sanitizer $sanitizer, $seconds s per target"
# Seeds (samples, framed samples, regressions) into each target's corpus.
cargo test --release --lib export_seeds -- --ignored --quiet
for target in $targets; do
    cargo "${toolchain[@]}" fuzz run --release --sanitizer "$sanitizer" "$target" \
        "corpus/$target" -- -max_total_time="$seconds" -max_len=65536 -print_final_stats=1
done
