#!/usr/bin/env bash
# Inference of resnet18, resnet50 and vgg16 at 224×224, batch 1 and 8: splot against PyTorch
# and onnxruntime, side by side in one run (2 threads). Usage: bench/zoo_compare.sh [runs]
# PYTHON defaults to bench/.venv/bin/python, created with PyTorch, torchvision, onnx and
# onnxruntime from PyPI on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
THREADS=${THREADS:-2}
if [ -z "${PYTHON:-}" ]; then
  PYTHON=bench/.venv/bin/python
  if [ ! -x "$PYTHON" ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q torch torchvision onnx onnxruntime
  fi
fi
cargo build --release -q -p splot --example zoo_speed
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
for model in resnet18 resnet50 vgg16; do
  for batch in 1 8; do
    SPLOT_NUM_THREADS=$THREADS ./target/release/examples/zoo_speed "$model" "$batch" "$RUNS" | sed 's/^/splot /' | tee -a "$LOG"
    "$PYTHON" bench/zoo_torch.py "$model" "$batch" "$RUNS" --threads "$THREADS" 2>/dev/null | tee -a "$LOG"
  done
done
echo
echo "images/s (best of $RUNS); ratios are splot / other:"
printf '%-10s %5s %9s %9s %9s %8s %8s\n' model batch splot torch ort vs_torch vs_ort
for model in resnet18 resnet50 vgg16; do
  for batch in 1 8; do
    get() { grep "^$1 $model batch $batch:" "$LOG" | awk '{print $(NF-1)}'; }
    s=$(get splot); t=$(get torch); o=$(get onnxruntime)
    printf '%-10s %5s %9s %9s %9s %8.2f %8.2f\n' "$model" "$batch" "$s" "$t" "$o" "$(echo "$s / $t" | bc -l)" "$(echo "$s / $o" | bc -l)"
  done
done
