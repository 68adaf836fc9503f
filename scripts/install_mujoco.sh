#!/usr/bin/env bash
# Installs the MuJoCo 3 C library that RoboFleet builds against. Debian has
# only MuJoCo 2.2.2, so it comes from the official `mujoco` wheel on PyPI,
# which ships libmujoco.so with its C headers: the version and the wheel's
# SHA-256 pinned in scripts/mujoco.version, unpacked into PREFIX (default
# /opt/mujoco-VERSION) as lib/ and include/. Safe to run again: a complete
# install of the pinned version is left as it is.
#   scripts/install_mujoco.sh [PREFIX]
#   scripts/install_mujoco.sh --wheel WHEEL [PREFIX]   from a wheel already
#                                    downloaded (a machine without PyPI)
#   scripts/install_mujoco.sh --download DIR         only fetch the pinned wheel
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pins="$root/scripts/mujoco.version"
version=$(awk '$1 == "version" {print $2}' "$pins")
arch=$(uname -m)
sha=$(awk -v a="$arch" '$1 == a {print $2}' "$pins")
if [[ -z "$sha" ]]; then
  echo "install_mujoco.sh: no MuJoCo wheel pinned for $arch; add its SHA-256 to $pins" >&2
  exit 1
fi

download() {  # DIR: the pinned wheel, checked, whatever Python this machine has
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --platform "manylinux_2_28_$arch" \
    -d "$1" "mujoco==$version"
  wheel=$(ls "$1"/mujoco-"$version"-cp311-*"$arch".whl)
}

check() {  # WHEEL
  if [[ "$(sha256sum "$1" | cut -d' ' -f1)" != "$sha" ]]; then
    echo "install_mujoco.sh: $1 is not the pinned MuJoCo $version wheel (SHA-256 differs from $pins)" >&2
    exit 1
  fi
}

wheel=""
case "${1:-}" in
  --download)
    mkdir -p "${2:?usage: install_mujoco.sh --download DIR}"
    download "$2"
    check "$wheel"
    echo "$wheel"
    exit 0
    ;;
  --wheel)
    wheel="${2:?usage: install_mujoco.sh --wheel WHEEL [PREFIX]}"
    shift 2
    ;;
esac
prefix="${1:-/opt/mujoco-$version}"
if [[ -f "$prefix/lib/libmujoco.so.$version" && -f "$prefix/include/mujoco/mujoco.h" ]]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -z "$wheel" ]]; then download "$work"; fi
check "$wheel"
python3 - "$wheel" "$work/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in wheel.namelist():
        if name.startswith(("mujoco/include/mujoco/", "mujoco/libmujoco.so")):
            wheel.extract(name, sys.argv[2])
PY
# staged beside PREFIX and moved into place in one rename, so a half-unpacked
# folder is never taken for an install
mkdir -p "$(dirname "$prefix")"
staged=$(mktemp -d "$(dirname "$prefix")/.mujoco-$version.XXXXXX")
trap 'rm -rf "$work" "$staged"' EXIT
chmod 755 "$staged"
mkdir -p "$staged/lib"
mv "$work/unpacked/mujoco/include" "$staged/include"
mv "$work/unpacked/mujoco/libmujoco.so.$version" "$staged/lib/"
ln -s "libmujoco.so.$version" "$staged/lib/libmujoco.so"
rm -rf "$prefix"
mv "$staged" "$prefix"
echo "install_mujoco.sh: MuJoCo $version in $prefix"
