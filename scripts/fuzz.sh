#!/usr/bin/env bash
# Runs each fuzz target for FUZZ_SECONDS (cargo-fuzz on stable, without a sanitizer) and prints
# one line per target; libFuzzer's own output (thousands of progress lines) goes to a log file.
# Usage: scripts/fuzz.sh SECONDS TARGET...
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=$1
shift
logs=target/logs
mkdir -p "$logs"
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
for target in "$@"; do
  # New inputs go to fuzz/corpus; the regression inputs (kept in the protocol crate the
  # target checks: ringload-http1 or ringload-h2) seed it.
  mkdir -p "corpus/$target" "artifacts/$target"
  regressions=$(ls -d ../rust/*/tests/fuzz_regressions/"$target")
  log="$logs/$target.log"
  before=$(find "artifacts/$target" -type f | wc -l)
  if cargo fuzz run --sanitizer none --release "$target" "corpus/$target" \
    "$regressions" \
    -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=failed
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  findings=$(($(find "artifacts/$target" -type f | wc -l) - before))
  echo "fuzz $target: ${runs:-0} inputs in ${seconds} s, $findings findings ($status; log: fuzz/$log)"
  if [ "$status" != ok ]; then
    # The finding (or the build error) is at the end of the log; the input is in fuzz/artifacts.
    tail -n 30 "$log" >&2
    exit 1
  fi
done
