#!/usr/bin/env bash
# Style transfer speed, splot against PyTorch, side by side: Gatys et al. at SIZE×SIZE
# (default 512) over VGG19 (average pooling, random weights), L-BFGS with the strong-Wolfe
# line search for STEPS iterations (default 10), THREADS threads (default 2), from the
# content picture. Each side runs ROUNDS times (default 2) in turn; prints each side's best
# seconds per evaluation (VGG19 forward to relu5_1 and backward to the pixels), per
# iteration, and peak memory, and the ratio.
# Usage: bench/style_compare.sh [SIZE] [STEPS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-512}
STEPS=${2:-10}
ROUNDS=${3:-2}
THREADS=${THREADS:-2}
PY=${PYTHON:-bench/.venv/bin/python}
cargo build --release -q -p splot --example style_speed
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" -c "
from PIL import Image
Image.open('data/photos/chelsea.jpg').convert('RGB').resize(($SIZE, $SIZE), Image.BICUBIC).save('$TMP/content.png')
Image.open('data/photos/hubble_deep_field.jpg').convert('RGB').resize(($SIZE, $SIZE), Image.BICUBIC).save('$TMP/style.png')"
for r in $(seq "$ROUNDS"); do
  ./target/release/examples/style_speed "$TMP/content.png" "$TMP/style.png" --steps "$STEPS" --threads "$THREADS" >"$TMP/splot.$r"
  "$PY" bench/style_torch.py "$TMP/content.png" "$TMP/style.png" --steps "$STEPS" --threads "$THREADS" >"$TMP/torch.$r"
  echo "round $r: splot $(cat "$TMP/splot.$r")" >&2
  echo "round $r: torch $(cat "$TMP/torch.$r")" >&2
done
best() { cat "$TMP"/$1.* | awk '{ if (b == "" || $2 < b) b = $2 } END { print b }'; }
s=$(best splot); t=$(best torch)
echo "Gatys ${SIZE}×${SIZE}, VGG19, L-BFGS: splot $s s per evaluation, PyTorch $t s; ratio $(awk -v s="$s" -v t="$t" 'BEGIN { printf "%.2f", t / s }')x (PyTorch's time over splot's)"
