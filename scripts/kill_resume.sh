#!/usr/bin/env bash
# Crash safety, tested (issue 22): trains LeNet-5 on a subset of MNIST once without
# interruption, then again while killing it with SIGKILL at random moments (during a
# step, a checkpoint write or an evaluation: wherever the clock says) KILLS times,
# resuming from the run directory after each kill. The two runs' metrics (every column of
# metrics.csv but the timings) must be equal, line for line.
#
#   scripts/kill_resume.sh [KILLS] [EPOCHS]      defaults 10 and 8
#
# Uses target/release/splot (SPLOT=… to choose another binary); threads fixed at 2, so
# both runs reduce in the same order.
set -euo pipefail
cd "$(dirname "$0")/.."
kills_wanted=${1:-10}
epochs=${2:-8}
bin=${SPLOT:-target/release/splot}
[[ -x $bin ]] || cargo build --release -p splot-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(train --model lenet5-relu --limit-train 20000 --limit-test 2000 --threads 2 --seed 7)

"$bin" "${args[@]}" --epochs "$epochs" --out "$work/whole" >"$work/whole.log" 2>&1
# every column but the last two (seconds, images per second)
metrics() { awk -F, -v OFS=, '{ NF -= 2; print }' "$1/metrics.csv"; }
start=$(date +%s.%N)
whole_s=$(awk -F, 'NR > 1 { s += $(NF - 1) } END { print s }' "$work/whole/metrics.csv")
echo "uninterrupted run: $(tail -n 1 "$work/whole/metrics.csv")"

saved() { if [[ -f $work/cut/metrics.csv ]]; then echo $(($(wc -l <"$work/cut/metrics.csv") - 1)); else echo 0; fi; }
kills=0 launches=0
while :; do
    if [[ -f $work/cut/last.safetensors ]]; then
        "$bin" train --resume "$work/cut" --epochs "$epochs" --threads 2 >>"$work/cut.log" 2>&1 &
    else
        rm -rf "$work/cut"
        "$bin" "${args[@]}" --epochs "$epochs" --out "$work/cut" >>"$work/cut.log" 2>&1 &
    fi
    pid=$!
    launches=$((launches + 1))
    if ((kills < kills_wanted)); then
        # a random moment within about one and a half epochs of work (plus start-up)
        sleep "$(awk -v s="$RANDOM" -v t="$whole_s" -v e="$epochs" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.5 * t / e }')"
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid"
            wait "$pid" 2>/dev/null || true
            kills=$((kills + 1))
            echo "kill $kills after launch $launches (epochs saved: $(saved))"
            continue
        fi
    fi
    if wait "$pid"; then
        break
    fi
    echo "the run failed after $kills kills; its log:" >&2
    tail -n 20 "$work/cut.log" >&2
    exit 1
done
if ((kills < kills_wanted)); then
    echo "the run finished after only $kills kills; give it more epochs" >&2
    exit 1
fi
echo "interrupted run: $(tail -n 1 "$work/cut/metrics.csv")"
if diff <(metrics "$work/whole") <(metrics "$work/cut") >"$work/diff"; then
    echo "kill-and-resume: $kills kills, $launches launches; every epoch's metrics equal to the uninterrupted run's ($(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s)"
else
    echo "kill-and-resume: metrics differ after $kills kills:" >&2
    cat "$work/diff" >&2
    exit 1
fi
