#!/usr/bin/env bash
# Retrieval on MNIST (docs/transfer.md): gallery = the 60 000 training digits, queries =
# the 10 000 test digits, "same class" as relevance. Features: LeNet-5's C5 and F6 trained
# on MNIST (CHECKPOINT, default the transfer experiment's source), the same layers of an
# untrained LeNet-5 (seed 0), and raw pixels (the prepared 32×32 input).
#   scripts/retrieval_experiment.sh [CHECKPOINT] [WORK_DIR]     # about 1 minute on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
CK=${1:-runs/transfer/source/last.safetensors}
work=${2:-runs/retrieval}
splot=target/release/splot
cargo build --release -q -p splot-cli
mkdir -p "$work"
run() { # name, then the index arguments before the data
  local name=$1; shift
  $splot index "$@" data/mnist --out "$work/$name-gallery.safetensors" >/dev/null
  $splot index "$@" data/mnist --val --out "$work/$name-queries.safetensors" >/dev/null
  echo "$name: $($splot search "$work/$name-gallery.safetensors" --eval "$work/$name-queries.safetensors" | sed 's/.*: precision/precision/')"
}
run learned-c5 "$CK" --layer c5
run learned-f6 "$CK" --layer f6
run random-c5 --model lenet5 --random --layer c5
run random-f6 --model lenet5 --random --layer f6
run pixels "$CK" --layer pixels
