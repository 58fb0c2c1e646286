#!/usr/bin/env bash
# LeNet-5 training throughput, splot against PyTorch, side by side on this machine.
# Runs splot's `lenet_speed` example and bench/lenet_torch.py alternately (ROUNDS rounds,
# default 2) for both networks at batch 64 and 256, then prints every measurement and the
# ratio splot/PyTorch of the best of each. Usage: bench/lenet_compare.sh [rounds]
# Environment: PYTHON (default: bench/.venv/bin/python, created and filled with PyTorch from
# PyPI on first use), THREADS (default 2). Peak memory (max RSS) is measured per process.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
THREADS=${THREADS:-2}
if [ -z "${PYTHON:-}" ]; then
  PYTHON=bench/.venv/bin/python
  if [ ! -x "$PYTHON" ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q torch
  fi
fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
# Runs a command, prints its output line with " peak_mb N" appended.
peak() { /usr/bin/time -f "%M" -o "$LOG.rss" "$@" | tr -d '\n'; printf ' peak_mb %d\n' $(( $(cat "$LOG.rss") / 1024 )); }
cargo build --release -q -p splot --example lenet_speed
SPLOT=./target/release/examples/lenet_speed
LOG=$(mktemp)
trap 'rm -f "$LOG" "$LOG.rss"' EXIT
for round in $(seq "$ROUNDS"); do
  for model in lenet5 lenet5-relu; do
    for batch in 64 256; do
      steps=$((batch == 64 ? 50 : 15))
      peak env SPLOT_NUM_THREADS="$THREADS" "$SPLOT" "$batch" "$steps" "$model" | sed "s/^/splot $round /" | tee -a "$LOG"
      peak "$PYTHON" bench/lenet_torch.py "$model" --batches "$batch" --steps "$steps" --threads "$THREADS" \
        | sed "s/^/torch $round /" | tee -a "$LOG"
    done
  done
done
echo
echo "best of $ROUNDS rounds (images/s):"
printf '%-12s %6s %10s %10s %7s %10s %10s\n' model batch splot torch ratio splot_MB torch_MB
for model in lenet5 lenet5-relu; do
  for batch in 64 256; do
    best() { grep "^$1 [0-9]* $model batch $batch:" "$LOG" | awk '{print $6}' | sort -n | tail -1; }
    s=$(best splot); t=$(best torch)
    mem() { grep "^$1 [0-9]* $model batch $batch:" "$LOG" | awk '{print $NF}' | sort -n | tail -1; }
    printf '%-12s %6s %10s %10s %7.2f %10s %10s\n' "$model" "$batch" "$s" "$t" "$(echo "$s / $t" | bc -l)" "$(mem splot)" "$(mem torch)"
  done
done
