#!/usr/bin/env bash
# Fuzzes every reader of outside bytes (LETOR, .inter, the top-p cache, export directories,
# checkpoints) with seeded mutations for MINUTES minutes in all, and reports per reader the
# runs, the inputs read, the distinct kinds of error and the crashes (a panic, or an abort).
#
#   scripts/fuzz.sh 30            # 30 minutes, a random seed (printed)
#   RANKDISTIL_FUZZ_SEED=7 scripts/fuzz.sh 5
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: scripts/fuzz.sh MINUTES}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rankdistil-target}"
# Six readers share the time.
export RANKDISTIL_FUZZ_SECONDS=$(( minutes * 60 / 6 ))
log=$(mktemp)
cargo test --release -p rankdistil-train --test fuzz_readers -- --ignored --nocapture \
  every_reader_survives_a_long_pass > "$log" 2>&1
status=$?
grep -E "^fuzz |panicked|test result" "$log"
if [ "$status" -ne 0 ]; then
  tail -20 "$log" >&2
  echo "fuzz: FAILED (exit status $status): a reader crashed; the input is named above" >&2
  exit 1
fi
echo "fuzz: no crashes in $minutes minutes"
