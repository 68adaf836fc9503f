#!/usr/bin/env bash
# Builds a fuzz target of tests/fuzz with clang (libFuzzer, ASan, UBSan) and
# runs it for a bounded time (default 30 s). Exits non-zero on any crash,
# sanitizer report, uncaught exception or input that runs over 10 s.
#   scripts/ci/fuzz.sh wire_fuzz|config_fuzz [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${1:?usage: fuzz.sh wire_fuzz|config_fuzz [SECONDS]}"
seconds="${2:-30}"
build="${ROBOFLEET_FUZZ_BUILD:-$root/build/fuzz}"
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ is missing; apt-get install clang (scripts/setup.sh does)" >&2
  exit 1
fi
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" --target "$target" >/dev/null
corpus="$build/corpus-$target"
mkdir -p "$corpus"
if [[ "$target" == config_fuzz ]]; then
  # the input sits beside copies of the project's experiments, so `extends:`
  # lines reach real bases; the experiments are the seed corpus too
  experiments="$build/experiments"
  rm -rf "$experiments"
  cp -r "$root/experiments" "$experiments"
  cp "$root"/experiments/*.yaml "$corpus"/
  export ROBOFLEET_FUZZ_EXPERIMENTS="$experiments"
fi
"$build/$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 "$corpus" 2>&1 | tail -n 5
