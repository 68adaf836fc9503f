#!/usr/bin/env bash
# Installs everything RoboFleet needs on Debian 12 (as root), MuJoCo 3 from
# its official wheel into /opt (scripts/install_mujoco.sh), then configures
# and builds it in build/. Safe to run again: apt skips what is installed and
# the build is incremental. Where the CUDA toolkit and NCCL are installed
# (/usr/local/cuda), the NCCL library is built too; GPU learners need a CUDA
# LibTorch: scripts/gpu_check.sh builds against PyTorch's on a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev                 # LibTorch 1.13 (CPU)
  libgloo-dev                  # headers of c10d's Gloo process group (learner ranks)
  libopenblas0-pthread         # optimised BLAS: the reference BLAS makes LibTorch ~25x slower
  libmujoco-dev                # MuJoCo 2.2.2: only bench_mujoco_versions compares against it
  libzmq3-dev cppzmq-dev       # ZeroMQ and its C++ binding
  libcxxopts-dev libyaml-cpp-dev
  libgtest-dev libbenchmark-dev
  python3 python3-torch        # the Python deployment example and its test
  python3-matplotlib           # scripts/plot_runs.py: curves.png at the end of a run
  python3-venv python3-pip     # the tests' Python tools (TensorBoard's event reader)
  ffmpeg libegl-dev libegl-mesa0 libgl1-mesa-dri  # offscreen video without a display
  slurm-wlm munge              # robofleet sweep --backend slurm, and its tests (scripts/ci/start_slurm.sh)
  clang libclang-rt-14-dev     # libFuzzer targets, sanitizer builds, -Wthread-safety
  clang-format                 # the format check (scripts/ci/check_format.sh)
  iproute2                     # ip netns and veth links: the test of faults across a real link
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# make sure LibTorch's BLAS is OpenBLAS, not the reference implementation
arch_triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
openblas="/usr/lib/${arch_triplet}/openblas-pthread/libblas.so.3"
if [[ -e "$openblas" ]]; then
  update-alternatives --set "libblas.so.3-${arch_triplet}" "$openblas" >/dev/null
fi

# MuJoCo 3 (Debian has 2.2.2): the pinned official build, from its PyPI wheel
scripts/install_mujoco.sh

# CI builds with warnings as errors; elsewhere a newer compiler's new warnings
# stay warnings
werror=OFF
if [[ "${CI:-}" == true ]]; then werror=ON; fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DROBOFLEET_WERROR=$werror
cmake --build build -j2

# Python tools the tests use, in a venv that also sees Debian's torch and matplotlib
if ! build/pyvenv/bin/python -c "import tensorboard" 2>/dev/null; then
  /usr/bin/python3 -m venv --system-site-packages build/pyvenv
  build/pyvenv/bin/pip install --quiet --disable-pip-version-check tensorboard
fi
