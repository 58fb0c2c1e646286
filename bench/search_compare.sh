#!/usr/bin/env bash
# Exact search, splot against faiss-cpu's IndexFlatIP, side by side on the same vectors:
# 10 000 queries against a 60 000-vector gallery, k = 10, THREADS threads (default 2),
# - 84-d: LeNet-5's F6 features of MNIST (test against train), from an index of
#   `splot index CHECKPOINT data/mnist --layer f6` (CHECKPOINT: default runs/transfer/source);
# - 512-d: random unit vectors (the size of ResNet-18's avgpool features).
# Each side is timed ROUNDS times (default 3) in turn and reports its best; prints both,
# the ratio, and the share of queries whose top-10 rows agree exactly.
# Usage: bench/search_compare.sh [CHECKPOINT] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
CK=${1:-runs/transfer/source/last.safetensors}
ROUNDS=${2:-3}
THREADS=${THREADS:-2}
PY=${PYTHON:-bench/.venv/bin/python}
cargo build --release -q -p splot-cli -p splot --example search_speed
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
./target/release/splot index "$CK" data/mnist --layer f6 --out "$TMP/g84" >/dev/null
./target/release/splot index "$CK" data/mnist --layer f6 --val --out "$TMP/q84" >/dev/null
"$PY" bench/search_faiss.py --random 60000 512 "$TMP/g512" --seed 1
"$PY" bench/search_faiss.py --random 10000 512 "$TMP/q512" --seed 2
for d in 84 512; do
  s=0; f=0
  for r in $(seq "$ROUNDS"); do
    a=$(./target/release/examples/search_speed "$TMP/g$d" "$TMP/q$d" --k 10 --threads "$THREADS" --rounds 1 --topk "$TMP/s$d" | awk '{print $2}')
    b=$("$PY" bench/search_faiss.py "$TMP/g$d" "$TMP/q$d" --k 10 --threads "$THREADS" --rounds 1 --topk "$TMP/f$d" | awk '{print $2}')
    s=$(awk -v x="$a" -v y="$s" 'BEGIN { print (x > y) ? x : y }')
    f=$(awk -v x="$b" -v y="$f" 'BEGIN { print (x > y) ? x : y }')
  done
  agree=$("$PY" -c "
from safetensors.numpy import load_file
import numpy as np
a = load_file('$TMP/s$d')['topk']; b = load_file('$TMP/f$d')['topk']
print(f'{(a == b).all(axis=1).mean():.4f}')")
  echo "d $d: splot $s queries/s, faiss IndexFlatIP $f queries/s, ratio $(awk -v s="$s" -v f="$f" 'BEGIN { printf "%.2f", s / f }')x; identical top-10: $agree"
done
