#!/usr/bin/env bash
# `switchboard scan` beside the checklist's `grep -r dG9r` on one large tree, in one run.
#
# Usage: bench/scan.sh [TREE]
#   TREE defaults to ~/.cargo/registry/src (every crate source cargo has fetched: a few hundred MB of
#   real code, docs, data and some binaries). When it is missing or small, a tree of about 300 MB is
#   generated from this repository's own files (copied many times, plus generated text).
# Knobs: RUNS=7 (timed runs of each command, after one warm-up run of each to fill the page cache)
#
# Prints the machine, the tree, the median wall time of each command and the ratio grep/scan.
# `scan` checks more than grep: it decodes every dG9r candidate, looks for client secrets and bearer
# tokens near an intercom mention, and honours .gitignore.
set -euo pipefail

RUNS=${RUNS:-7}
source "$(dirname "$0")/lib.sh"

tree="${1:-$HOME/.cargo/registry/src}"
size_mb() { du -sm --apparent-size "$1" 2>/dev/null | cut -f1; }
if [[ ! -d "$tree" || "$(size_mb "$tree")" -lt 100 ]]; then
  echo "generating a tree (no large tree at $tree)" >&2
  tree="$work/tree"
  mkdir -p "$tree"
  n=0
  while [[ "$(size_mb "$tree")" -lt 300 ]]; do
    n=$((n + 1))
    git ls-files -z | tar --null -T - -cf - | (mkdir -p "$tree/copy$n" && tar -xf - -C "$tree/copy$n")
    # Generated text: log-like lines, so the tree is not only source code.
    awk -v seed="$n" 'BEGIN { srand(seed); for (i = 0; i < 200000; i++)
      printf "%d level=info request_id=%08x%08x path=/api/contacts/%d took=%dms\n", i, rand()*2^31, rand()*2^31, i, rand()*500 }' \
      > "$tree/copy$n/generated.log"
  done
fi

files=$(find "$tree" -type f | wc -l)
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tree: $tree, $(size_mb "$tree") MB (apparent), $files files"
echo "grep: $(grep --version | head -1)"

# One command's wall time in seconds; exit codes 0 and 1 (found / not found) are both fine.
wall() {
  local start end code=0
  start=$(date +%s%N)
  "$@" > /dev/null 2>&1 || code=$?
  end=$(date +%s%N)
  if [[ $code -gt 1 ]]; then echo "failed ($code): $*" >&2; exit 1; fi
  awk -v ns=$((end - start)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run_one() {
  case "$1" in
    grep) grep -r dG9r "$tree" ;;
    grep_c) LC_ALL=C grep -r dG9r "$tree" ;;
    scan) "$bin" scan "$tree" --format json ;;
    scan_1) "$bin" scan "$tree" --format json --threads 1 ;;
  esac
}
order=(grep grep_c scan scan_1)
for name in "${order[@]}"; do wall run_one "$name" > /dev/null; done   # warm-up: page cache
for ((i = 1; i <= RUNS; i++)); do
  # Interleaved, so a burst of other load hits every command alike.
  for name in "${order[@]}"; do wall run_one "$name" >> "$work/$name.times"; done
done

"$bin" scan "$tree" 2>/dev/null | tail -n 3 | sed 's/^/scan says: /' || true
g=$(median < "$work/grep.times"); gc=$(median < "$work/grep_c.times")
s=$(median < "$work/scan.times"); s1=$(median < "$work/scan_1.times")
printf '%-32s %s\n' "median wall time of $RUNS runs" "seconds"
printf '%-32s %s\n' "grep -r dG9r" "$g" "LC_ALL=C grep -r dG9r" "$gc" "switchboard scan" "$s" \
  "switchboard scan --threads 1" "$s1"
awk -v g="$g" -v s="$s" -v s1="$s1" 'BEGIN { printf "ratio grep/scan: %.2fx (scan on one thread: %.2fx)\n", g / s, g / s1 }'
