#!/usr/bin/env bash
# Builds the wire-decoder fuzz target with clang and runs it for a bounded
# time (default 30 s), starting from a corpus of valid messages. Exits
# non-zero on any crash or sanitizer report.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-30}"
build="${ROBOFLEET_FUZZ_BUILD:-$root/build/fuzz}"
if ! command -v clang++ >/dev/null; then
  echo "fuzz_wire.sh: clang++ is missing; apt-get install clang (scripts/setup.sh does)" >&2
  exit 1
fi
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" >/dev/null
corpus="$build/corpus"
mkdir -p "$corpus"
"$build/wire_fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 |
  tail -n 5
