#!/usr/bin/env bash
# Clang's thread-safety analysis over the code that declares locked state
# (core/thread_annotations.h, core/mutex.h): every source file that uses
# them must compile clean with -Wthread-safety -Werror. First it proves the
# analysis is on: tests/thread_safety/locked_counter.cc must compile and
# unlocked_counter.cc, which touches guarded data without its lock, must be
# rejected with thread-safety errors. A check that cannot fail checks nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
if ! command -v clang++ >/dev/null; then
  echo "check_thread_safety.sh: clang++ is missing; apt-get install clang (scripts/setup.sh does)" >&2
  exit 1
fi
# MuJoCo 3's headers, where cmake/MuJoCo.cmake finds them, before Debian's 2.2
# in /usr/include
mujoco_version=$(awk '$1 == "version" {print $2}' scripts/mujoco.version)
mujoco_dir="${ROBOFLEET_MUJOCO_DIR:-/opt/mujoco-$mujoco_version}"
if [[ ! -f "$mujoco_dir/include/mujoco/mujoco.h" ]]; then
  echo "check_thread_safety.sh: no MuJoCo $mujoco_version in $mujoco_dir; run scripts/install_mujoco.sh" >&2
  exit 1
fi
flags=(-std=c++17 -fsyntax-only -Wall -Wextra -Wshadow -Wthread-safety -Werror -I"$root"
       -isystem "$mujoco_dir/include")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! clang++ "${flags[@]}" tests/thread_safety/locked_counter.cc 2>"$log"; then
  cat "$log"
  echo "thread safety: correctly locked code does not compile; the check itself is broken"
  exit 1
fi
if clang++ "${flags[@]}" tests/thread_safety/unlocked_counter.cc 2>"$log"; then
  echo "thread safety: unlocked_counter.cc compiled, so -Wthread-safety finds nothing"
  exit 1
fi
for expected in "requires holding mutex 'mu_'" "calling function 'AddLocked' requires holding"; do
  if ! grep -q "$expected" "$log"; then
    cat "$log"
    echo "thread safety: unlocked_counter.cc failed without the diagnostic \"$expected\""
    exit 1
  fi
done

# the product's annotated files, wherever they are
mapfile -t files < <(grep -rlE '#include "core/(mutex|thread_annotations)\.h"' \
  core envs algorithms actors learner launcher --include='*.cc' --include='*.h' | sort)
status=0
for file in "${files[@]}"; do
  if ! clang++ "${flags[@]}" -x c++ "$file" 2>"$log"; then
    cat "$log"
    status=1
  fi
done
if ((status == 0)); then
  echo "thread safety: the analysis rejects unlocked access; ${#files[@]} annotated files are clean"
fi
exit $status
