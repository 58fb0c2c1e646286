#!/usr/bin/env bash
# Loader speed, splot against torchvision, side by side: decode + RandomResizedCrop(224) +
# horizontal flip + normalise + collate of a JPEG ImageFolder (about 500×375), batches of
# 32 on WORKERS workers (default 2). Builds the folder from shared/data/photos/ on first use
# (bench/loader/make_photo_folder.py, 300 files in 3 classes, into DIR, default
# target/loader-photos), then runs both sides alternately ROUNDS times (default 3), each
# timing EPOCHS epochs (default 2), and prints each side's best images/s and the ratio.
# Usage: bench/loader_compare.sh [DIR]. Environment: PYTHON (default bench/.venv/bin/python),
# PHOTOS (default ../shared/data/photos), WORKERS, ROUNDS, EPOCHS.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-target/loader-photos}
PYTHON=${PYTHON:-bench/.venv/bin/python}
PHOTOS=${PHOTOS:-../shared/data/photos}
WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-2}
[ -d "$DIR" ] || "$PYTHON" bench/loader/make_photo_folder.py "$PHOTOS" "$DIR" 100
cargo build --release -q -p splot --example loader_speed
best_splot=0
best_torch=0
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }
for round in $(seq "$ROUNDS"); do
  s=$(./target/release/examples/loader_speed "$DIR" "$WORKERS" "$EPOCHS" | awk '/^images_per_s/ {print $2}')
  t=$("$PYTHON" bench/loader/torch_loader.py "$DIR" "$WORKERS" "$EPOCHS" | awk '/^images_per_s/ {print $2}')
  echo "round $round: splot $s images/s, torchvision $t images/s" >&2
  best_splot=$(max "$best_splot" "$s")
  best_torch=$(max "$best_torch" "$t")
done
ratio=$(awk -v a="$best_splot" -v b="$best_torch" 'BEGIN { printf "%.2f", a / b }')
echo "loader ($WORKERS workers, batch 32, $(find "$DIR" -name '*.jpg' | wc -l) JPEGs): splot $best_splot images/s, torchvision $best_torch images/s, ratio ${ratio}x"
