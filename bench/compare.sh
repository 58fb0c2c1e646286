#!/usr/bin/env bash
# The benchmark workloads, splot against PyTorch, side by side on this machine.
# Usage: bench/compare.sh [reps] [filter-regex]     e.g. bench/compare.sh 10 'conv_fwd_|resnet18'
# For every workload whose name matches the filter (default: all; `gemm_peak` always runs,
# it is the reference rate), runs splot's `workload` example and bench/torch_workloads.py
# alternately, each as its own process under /usr/bin/time for its peak memory (max RSS),
# each timing `reps` runs (default 10) after WARMUP warm-up runs (default 2) and reporting
# the median; ROUNDS such pairs (default 3) per workload, of which the table keeps each
# side's best. Progress lines go to stderr; the markdown table goes to stdout and to
# bench/RESULTS.latest.md (copy it to bench/RESULTS.md to make it the committed baseline).
# Environment: PYTHON (default: bench/.venv/bin/python, created and filled with torch and
# torchvision from PyPI on first use), THREADS (default 2), WARMUP (default 2), ROUNDS
# (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-10}
FILTER=${2:-.}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
if [ -z "${PYTHON:-}" ]; then
  PYTHON=bench/.venv/bin/python
  [ -x "$PYTHON" ] || python3 -m venv bench/.venv
  "$PYTHON" -c 'import torch, torchvision' 2>/dev/null || bench/.venv/bin/pip install -q torch torchvision
fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
cargo build --release -q -p splot --example workload
SPLOT=./target/release/examples/workload
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Runs one side of one workload; appends "<side> <name> <ms> <gflops> <peak MB>" to the log
# ("fail" for the figures of a run that did not finish).
measure() {
  local side=$1 name=$2
  shift 2
  local line rss
  if /usr/bin/time -f %M -o "$TMP/rss" "$@" "$name" --reps "$REPS" --warmup "$WARMUP" --threads "$THREADS" \
    >"$TMP/out" 2>"$TMP/err" && line=$(grep '^name ' "$TMP/out"); then
    rss=$(tail -n 1 "$TMP/rss")
    echo "$side $(awk '{print $2, $4, $6}' <<<"$line") $((rss / 1024))" >>"$TMP/log"
    echo "$side $line peak_mb $((rss / 1024))" >&2
  else
    echo "$side $name fail fail fail" >>"$TMP/log"
    echo "$side $name FAILED: $(tail -n 3 "$TMP/err" | tr '\n' ' ')" >&2
  fi
}

names=$({ echo gemm_peak; "$SPLOT" --list | grep -v '^gemm_peak$' | grep -E -- "$FILTER" || true; })
for name in $names; do
  for _ in $(seq "$ROUNDS"); do
    measure splot "$name" env SPLOT_NUM_THREADS="$THREADS" "$SPLOT"
    measure torch "$name" "$PYTHON" bench/torch_workloads.py
  done
done

torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || echo "+changes")
{
  echo "# splot against PyTorch, side by side"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: ${cpu:-unknown CPU}, $(nproc) cores; threads: $THREADS on each side"
  echo "- splot $commit; PyTorch $torch_version"
  echo "- each figure: the best of $ROUNDS rounds, each the median of $REPS runs after $WARMUP warm-up runs in"
  echo "  one process; the two sides alternate round by round (this machine's speed drifts by ±30 %)"
  echo "- command: \`ROUNDS=$ROUNDS bench/compare.sh $REPS '$FILTER'\`"
  echo "- speed and memory ratios are torch / splot: above 1 means splot is faster / needs less memory"
  echo "- GFLOP/s: 2 per multiply-add, forward+backward and training steps count 3 forward passes;"
  echo "  of peak: splot's rate over the measured GEMM peak (the faster of the two \`gemm_peak\` rows)"
  echo "  (Winograd layers do fewer multiply-adds than they are credited with, so they can pass 100 %)"
  echo "- peak MB: the process's max RSS (PyTorch's includes the interpreter and its libraries)"
  echo
  awk '
    # per side and workload: the fastest round (a failed round counts only if all fail),
    # and the largest peak memory of any round
    {
      order[NR] = $2; k = $1 SUBSEP $2
      if (!(k in ms) || (ms[k] == "fail" && $3 != "fail") || ($3 != "fail" && $3 + 0 < ms[k] + 0)) {
        ms[k] = $3; gf[k] = $4
      }
      if (!(k in mb) || mb[k] == "fail" || ($5 != "fail" && $5 + 0 > mb[k] + 0)) mb[k] = $5
    }
    $2 == "gemm_peak" && $4 != "fail" && $4 + 0 > peak { peak = $4 + 0 }
    function ratio(t, s) { return (t == "fail" || s == "fail" || s + 0 == 0) ? "-" : sprintf("%.2f", t / s) }
    END {
      print "| workload | splot ms | torch ms | speed | splot GFLOP/s | of peak | splot MB | torch MB | memory |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= NR; i++) {
        n = order[i]
        if (seen[n]++) continue
        s = gf["splot", n]
        frac = (s == "fail" || s + 0 == 0 || peak == 0) ? "-" : sprintf("%.0f %%", 100 * s / peak)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, ms["splot", n], ms["torch", n],
          ratio(ms["torch", n], ms["splot", n]), (s + 0 == 0 ? "-" : s), frac,
          mb["splot", n], mb["torch", n], ratio(mb["torch", n], mb["splot", n])
      }
      printf "\nmeasured GEMM peak: %s GFLOP/s\n", (peak ? peak : "-")
    }' "$TMP/log"
} | tee bench/RESULTS.latest.md
