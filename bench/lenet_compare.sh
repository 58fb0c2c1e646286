#!/usr/bin/env bash
# LeNet-5 training throughput, splot against PyTorch, side by side on this machine.
# Runs splot's `lenet_speed` example and bench/lenet_torch.py alternately (ROUNDS rounds,
# default 2) for both networks at batch 64 and 256, then prints every measurement and the
# ratio splot/PyTorch of the best of each. Usage: bench/lenet_compare.sh [rounds]
# Environment: PYTHON (default /work/torchenv/bin/python), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
PYTHON=${PYTHON:-/work/torchenv/bin/python}
THREADS=${THREADS:-2}
cargo build --release -q -p splot --example lenet_speed
SPLOT=./target/release/examples/lenet_speed
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
for round in $(seq "$ROUNDS"); do
  for model in lenet5 lenet5-relu; do
    for batch in 64 256; do
      steps=$((batch == 64 ? 50 : 15))
      SPLOT_NUM_THREADS=$THREADS "$SPLOT" "$batch" "$steps" "$model" | sed "s/^/splot $round /" | tee -a "$LOG"
      "$PYTHON" bench/lenet_torch.py "$model" --batches "$batch" --steps "$steps" --threads "$THREADS" \
        | sed "s/^/torch $round /" | tee -a "$LOG"
    done
  done
done
echo
echo "best of $ROUNDS rounds (images/s):"
printf '%-12s %6s %10s %10s %7s\n' model batch splot torch ratio
for model in lenet5 lenet5-relu; do
  for batch in 64 256; do
    best() { grep "^$1 [0-9]* $model batch $batch:" "$LOG" | awk '{print $6}' | sort -n | tail -1; }
    s=$(best splot); t=$(best torch)
    printf '%-12s %6s %10s %10s %7.2f\n' "$model" "$batch" "$s" "$t" "$(echo "$s / $t" | bc -l)"
  done
done
