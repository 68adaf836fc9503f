#!/usr/bin/env bash
# Checks DESIGN.md's dependency arrows on the source: each folder includes
# only its own headers and those of the folders it may depend on. (The build
# enforces the same through each library's include root; this names the line.)
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A allowed=(
  [core]="core"
  [envs]="core envs"
  [algorithms]="core algorithms"
  [actors]="core envs actors"
  [learner]="core algorithms learner"
  [launcher]="core envs algorithms actors learner launcher"
)

status=0
for folder in "${!allowed[@]}"; do
  while IFS= read -r hit; do
    # hit: FILE:LINE:#include "dep/..."
    dep=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$hit")
    if [[ " ${allowed[$folder]} " != *" $dep "* ]]; then
      echo "$hit: $folder/ may not include $dep/ (allowed: ${allowed[$folder]}; see DESIGN.md)"
      status=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$folder" --include='*.h' --include='*.cc' || true)
done
if ((status == 0)); then echo "layers: every include follows the dependency arrows"; fi
exit $status
