#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted as .clang-format says
# (Google style, 100 columns). Fix with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null; then
  echo "clang-format is not installed: apt-get install clang-format (scripts/setup.sh does)"
  exit 1
fi
mapfile -t files < <(git ls-files '*.cc' '*.h')
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  for f in "${bad[@]}"; do echo "$f: not formatted; run clang-format -i $f"; done
  exit 1
fi
echo "format: ${#files[@]} files as .clang-format says"
