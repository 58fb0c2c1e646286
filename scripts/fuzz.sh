#!/usr/bin/env bash
# Runs one fuzz target of fuzz/ for SECONDS (cargo-fuzz, nightly, AddressSanitizer, debug
# assertions and overflow checks on), one process (libFuzzer's default, so that its
# statistics come back on this terminal), niced, from the committed seeds plus the
# corpus it grew before. Prints libFuzzer's final statistics (executions, coverage) and
# keeps the log in fuzz/logs/TARGET.log; a crash leaves its input in fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh TARGET SECONDS     e.g. scripts/fuzz.sh idx 600
#   scripts/fuzz.sh list               the targets
#
# Needs `cargo install cargo-fuzz` and the nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
if [[ "${1:-}" == list ]]; then
    cargo +nightly fuzz list
    exit 0
fi
if [[ $# -ne 2 ]]; then
    echo "usage: scripts/fuzz.sh TARGET SECONDS   (targets: scripts/fuzz.sh list)" >&2
    exit 2
fi
target=$1 seconds=$2
mkdir -p "corpus/$target" "seeds/$target" logs
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export SPLOT_FUZZ_SCRATCH=$scratch SPLOT_NUM_THREADS=1
set +e
nice -n 19 cargo +nightly fuzz run -O -a -s address "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=20 \
    -rss_limit_mb=3072 -malloc_limit_mb=3072 2>&1 | tee "logs/$target.log" | grep -E "^#[0-9]+ +(INITED|DONE|REDUCE|NEW)|ERROR|panicked|stat::" | tail -n 25
status=${PIPESTATUS[0]}
set -e
echo "fuzz $target: exit $status; $(grep -E '^#[0-9]+ +DONE' "logs/$target.log" | tail -1)"
exit "$status"
