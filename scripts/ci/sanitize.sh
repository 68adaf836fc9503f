#!/usr/bin/env bash
# Builds the project with clang under a sanitizer in build/sanitize-KIND and
# runs the tests chosen for it there. Exits non-zero on a failed test or on
# any sanitizer report, including one from a process a test starts.
#   scripts/ci/sanitize.sh address   AddressSanitizer, LeakSanitizer, UBSan
#   scripts/ci/sanitize.sh thread    ThreadSanitizer
# Which tests run under which, and what LibTorch keeps out of ThreadSanitizer:
# docs/running.md, "Checked by tools". ROBOFLEET_SANITIZE_BUILD overrides the
# build folder, ROBOFLEET_SANITIZE_JOBS the parallel compile jobs (2).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kind="${1:?usage: sanitize.sh address|thread}"
build="${ROBOFLEET_SANITIZE_BUILD:-$root/build/sanitize-$kind}"
jobs="${ROBOFLEET_SANITIZE_JOBS:-2}"
if ! command -v clang++ >/dev/null; then
  echo "sanitize.sh: clang++ is missing; apt-get install clang (scripts/setup.sh does)" >&2
  exit 1
fi

# Every report also goes to a file in $reports, so that one in a child
# process (a restarted actor, a forked test child) fails the run even when
# its parent carries on.
reports="$build/reports"
case "$kind" in
  address)
    # the unit tests of every folder, and the end-to-end runs that push the
    # most through the learner's and actor's decoders and buffers: a run with
    # the update overlapping the receive, SAC's replay buffer and resume,
    # 10,000 malformed fragments and 10,000 malformed weight messages
    unit=(core_test envs_test launcher_test algorithms_test actors_test learner_test)
    end_to_end=(integration_test hostile_test survive_test robofleet)
    e2e_tests='^(integration_test\.TrainTest\.(FiveUpdatesOverIpc|ReceivingDuringTheUpdate|InterruptStopsCleanly)|integration_test\.SacCliTest\.TinyRunTrainsFromReplay|hostile_test\.|survive_test\.SurviveTest\.ActorRejectsTenThousand)'
    canaries=(heap-overflow use-after-free signed-overflow leak)
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$reports/asan"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
    ;;
  thread)
    # LibTorch is not built with ThreadSanitizer: only the folders without
    # it, whose tests hold the threads of core (the ZAP handler, concurrent
    # atomic writes), envs (the model cache and warning log) and the process
    # layer (signal-safe child lists)
    unit=(core_test envs_test launcher_test)
    end_to_end=()
    e2e_tests=''
    canaries=(race)
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/ci/tsan.supp:log_path=$reports/tsan"
    ;;
  *)
    echo "sanitize.sh: unknown sanitizer '$kind'; use address or thread" >&2
    exit 2
    ;;
esac

start=$SECONDS
mkdir -p "$reports"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DROBOFLEET_SANITIZE="$kind" -DROBOFLEET_WERROR=ON \
  ${ROBOFLEET_MUJOCO_DIR:+-DROBOFLEET_MUJOCO_DIR="$ROBOFLEET_MUJOCO_DIR"} >/dev/null
if ! cmake --build "$build" --target sanitizer_canary "${unit[@]}" "${end_to_end[@]}" \
  -- -j "$jobs" >"$build/build.log" 2>&1; then
  tail -n 40 "$build/build.log"
  echo "sanitize.sh: the $kind build failed ($build/build.log)"
  exit 1
fi
echo "sanitize.sh: $kind build $((SECONDS - start)) s"

# reports written since the last call, printed; the count is the result
collect() {
  shopt -s nullglob
  local found=("$reports"/*)
  shopt -u nullglob
  for report in "${found[@]}"; do
    echo "== $report"
    head -n 60 "$report"
  done
  return ${#found[@]}
}

# first the canaries: each deliberate bug must stop its process and leave a
# report, or this build checks nothing
for bug in "${canaries[@]}"; do
  rm -rf "$reports"
  mkdir -p "$reports"
  if "$build/tests/sanitizer_canary" "$bug" 2>/dev/null; then
    echo "sanitize.sh: the $bug canary exited cleanly under $kind; the sanitizer is off"
    exit 1
  fi
  if collect >/dev/null; then
    echo "sanitize.sh: the $bug canary left no report in $reports; reports are lost"
    exit 1
  fi
done
rm -rf "$reports"
mkdir -p "$reports"

# each unit test binary as one process (LibTorch's start-up costs a second
# or more under ASan, too much to pay per test)
start=$SECONDS
status=0
for test in "${unit[@]}"; do
  if ! "$build/tests/$test" >"$build/$test.log" 2>&1; then
    grep -E '^\[  FAILED  \]' "$build/$test.log" || tail -n 20 "$build/$test.log"
    echo "sanitize.sh: $test failed under $kind ($build/$test.log)"
    status=1
  fi
done
echo "sanitize.sh: $kind unit tests $((SECONDS - start)) s"
if [[ -n "$e2e_tests" ]]; then
  start=$SECONDS
  if ! ctest --test-dir "$build" -R "$e2e_tests" -j 2 --output-on-failure \
    >"$build/ctest.log" 2>&1; then
    grep -E 'Failed|Timeout' "$build/ctest.log" || tail -n 20 "$build/ctest.log"
    echo "sanitize.sh: end-to-end tests failed under $kind ($build/ctest.log)"
    status=1
  fi
  echo "sanitize.sh: $kind end-to-end tests $((SECONDS - start)) s" \
    "($(grep -cE 'Test +#' "$build/ctest.log") tests)"
fi

if ! collect; then
  echo "sanitize.sh: $kind sanitizer reports above ($reports)"
  status=1
fi
if ((status == 0)); then echo "sanitize.sh: $kind: no failures and no reports"; fi
exit $status
