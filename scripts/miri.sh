#!/usr/bin/env bash
# Runs the small-shape kernel tests (crates/splot/tests/kernels_small.rs: direct, Winograd,
# im2col + GEMM and whole-image convolutions, forward and backward) and the cpu/ unit tests
# under Miri, which reports undefined behaviour in the kernels' `unsafe` code.
# - Tree Borrows (`-Zmiri-tree-borrows`): Stacked Borrows stops in crossbeam-epoch, rayon's
#   work-stealing deque (a known report in that crate, not in splot).
# - Two threads (SPLOT_NUM_THREADS=2), so the disjoint writes from several threads run;
#   `-Zmiri-ignore-leaks` because rayon's global pool is never joined at exit.
# - `-C target-feature=+avx2,+fma`, so the feature-detected FMA/AVX2 paths run, not only the
#   portable ones (Miri emulates the instructions).
# Skipped: the tanh unit test (4 million values: hours under Miri) and the Winograd tests
# (their `unsafe` is only the feature-detected call; 64 channels at least: hours).
#   scripts/miri.sh            # needs the nightly toolchain with the miri component
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-disable-isolation -Zmiri-ignore-leaks"
export RUSTFLAGS="-C target-feature=+avx2,+fma"
export SPLOT_NUM_THREADS=2
export CARGO_TARGET_DIR=target/miri
cargo +nightly miri test -p splot --test kernels_small -- --test-threads 1 "$@"
cargo +nightly miri test -p splot --lib cpu:: -- --test-threads 1 --skip tanh --skip winograd::
