#!/usr/bin/env bash
# Beam-search captioning speed, splot against PyTorch, side by side: the same checkpoint,
# the same val images, the same beam search (width 3).
# Usage: bench/caption_compare.sh CHECKPOINT [SCENES_DIR] [ROUNDS]
# Runs splot's `caption_decode` example and bench/caption_torch.py alternately ROUNDS times
# (default 3), each timing 3 decodings of the first 100 val images on THREADS threads
# (default 2) and reporting its best; prints each side's best captions/s, the ratio, and
# how many of the 100 best captions the two sides agree on (PyTorch's words are joined with
# spaces; splot's put punctuation against the word before it, which the comparison undoes).
set -euo pipefail
cd "$(dirname "$0")/.."
CK=$1
SCENES=${2:-data/scenes-64}
ROUNDS=${3:-3}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-bench/.venv/bin/python}
cargo build --release -q -p splot --example caption_decode
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for r in $(seq "$ROUNDS"); do
  ./target/release/examples/caption_decode "$CK" "$SCENES" --threads "$THREADS" >"$TMP/splot.$r"
  "$PYTHON" bench/caption_torch.py "$CK" "$SCENES" --threads "$THREADS" >"$TMP/torch.$r"
  echo "round $r: splot $(grep captions_per_s "$TMP/splot.$r" | cut -d' ' -f2) torch $(grep captions_per_s "$TMP/torch.$r" | cut -d' ' -f2) captions/s" >&2
done
best() { cat "$TMP"/$1.* | awk '/captions_per_s/ { if ($2 > b) b = $2 } END { print b }'; }
s=$(best splot); t=$(best torch)
same=$(paste -d'\t' <(grep '^caption ' "$TMP/splot.1") <(grep '^caption ' "$TMP/torch.1" | sed 's/ \([,:;.]\)/\1/g') | awk -F'\t' '$1 == $2' | wc -l)
echo "beam width 3, 100 images, $THREADS threads: splot $s captions/s, PyTorch $t captions/s, ratio $(awk -v s="$s" -v t="$t" 'BEGIN { printf "%.2f", s / t }')x; identical best captions: $same/100"
