#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (default 30), one after the other, each from its
# committed seeds (fuzz/seeds/<target>) plus a working corpus that is not committed (fuzz/corpus/<target>).
#
#   fuzz/run.sh [SECONDS] [TARGET...]       e.g. fuzz/run.sh 600 envelope
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The toolchain is stable, so RUSTC_BOOTSTRAP=1
# lets cargo-fuzz pass libFuzzer's nightly-only flags. A crash stops the run with libFuzzer's report
# and the input in fuzz/artifacts/<target>/; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> -s none fuzz/artifacts/<target>/<file>
# Environment: FUZZ_JOBS_NICE (default 19) is the nice level of the runs; FUZZ_PROFILE=dev builds
# without optimisation (CI: a much quicker build; the runs are slower, which a short run can afford).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
export RUSTC_BOOTSTRAP=1
# No sanitizer: every crate here forbids unsafe code, so AddressSanitizer would mostly slow the runs;
# what is hunted is panics, overflows (debug assertions are on) and broken invariants.
flags=(--sanitizer none)
if [ "${FUZZ_PROFILE:-release}" = dev ]; then
  flags+=(--dev)
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
echo "== building ${#targets[@]} fuzz targets"
started=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "== built in $(( $(date +%s) - started )) s"
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== fuzzing $target for ${seconds} s"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: the default 2 GiB.
  log="corpus/$target.log"
  status=0
  nice -n "${FUZZ_JOBS_NICE:-19}" cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 > "$log" 2>&1 || status=$?
  grep -E '^(stat::|INFO: seed corpus|Done [0-9]+ runs)|panicked|ERROR|SUMMARY|Test unit written' "$log" || true
  echo "corpus: $(ls "corpus/$target" | wc -l) files"
  if [ "$status" -ne 0 ]; then
    grep -A12 panicked "$log" | head -30 || true
    echo "== $target FAILED (exit $status); the input is in fuzz/artifacts/$target/, the log in fuzz/$log"
    exit 1
  fi
done
echo "== all ${#targets[@]} targets ran ${seconds} s each without a crash"
