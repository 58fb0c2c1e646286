#!/usr/bin/env bash
# The transfer-learning experiment of docs/transfer.md: what to transfer, how, and when.
#
# Source: LeNet-5 trained on MNIST (10 epochs). Targets: the UCI digits (8×8, scaled up to
# MNIST's 20×20 digit box) and, for "when", the digit scenes' five background textures
# (`splot data textures`, unrelated to digit identity). For 10, 50 and all labels per
# class, 3 seeds each, four methods:
#   scratch  LeNet-5 from random weights
#   probe    linear probe on F6 (the features under the head computed once, head trained)
#   top      fine-tune the top layers only (F6 and the head: --train-from f6)
#   all      fine-tune everything
# Every run: 30 epochs of SGD (lr 0.03, momentum 0.9, cosine), batch 16; the figure is the
# last epoch's test accuracy (not the best over epochs, which would select on the test set).
# Writes docs/transfer/results.csv (one line per run), docs/transfer/summary.csv (mean ± sd)
# and docs/transfer/accuracy.svg (accuracy against labels per class, one line per method).
#
#   scripts/transfer_experiment.sh [WORK_DIR]      # about 10 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-runs/transfer}
splot=target/release/splot
cargo build --release -q -p splot-cli
mkdir -p "$work" docs/transfer
if [ ! -f "$work/source/best.safetensors" ]; then
    rm -rf "$work/source"
    $splot train --epochs 10 --out "$work/source" | tail -1
fi
source="$work/source/last.safetensors"
[ -d "$work/textures/train" ] || $splot data textures --out "$work/textures" --count 100 --test 100 --size 32
results=docs/transfer/results.csv
echo "target,labels_per_class,method,seed,test_accuracy" > "$results"
common=(--epochs 30 --batch-size 16)
for target in uci textures; do
    case $target in
        uci) data=data/uci-digits; sizes="10 50 all" ;;
        textures) data="$work/textures"; sizes="10 50 all" ;;
    esac
    for k in $sizes; do
        per=(); [ "$k" = all ] || per=(--per-class "$k")
        for seed in 0 1 2; do
            for method in scratch probe top all; do
                out="$work/$target-$k-$method-$seed"
                rm -rf "$out"
                case $method in
                    scratch) $splot train --data "$data" "${per[@]}" "${common[@]}" --seed "$seed" --out "$out" > /dev/null ;;
                    probe) $splot finetune "$source" --probe --data "$data" "${per[@]}" "${common[@]}" --seed "$seed" --out "$out" > /dev/null 2>&1 ;;
                    top) $splot finetune "$source" --train-from f6 --data "$data" "${per[@]}" "${common[@]}" --seed "$seed" --out "$out" > /dev/null 2>&1 ;;
                    all) $splot finetune "$source" --data "$data" "${per[@]}" "${common[@]}" --seed "$seed" --out "$out" > /dev/null 2>&1 ;;
                esac
                acc=$(tail -1 "$out/metrics.csv" | cut -d, -f6)
                echo "$target,$k,$method,$seed,$acc" | tee -a "$results"
            done
        done
    done
done
python3 scripts/transfer_summary.py "$results" docs/transfer
