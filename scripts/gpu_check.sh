#!/usr/bin/env bash
# Proves the GPU path on a machine with NVIDIA GPUs: builds RoboFleet against
# the LibTorch inside an installed PyTorch 2.x wheel with nvcc and NCCL, runs
# the GPU tests (ctest -L gpu), a short learner.device: cuda training run, the
# PPO update's samples/s on the GPU, and NCCL with one rank and with two ranks
# on one GPU (which NCCL usually refuses: the log says so).
#
# MuJoCo, ZeroMQ and the other libraries need not be installed there: they
# come as Debian packages and MuJoCo's pinned wheel, gathered on a Debian 12
# machine with
#
#   scripts/gpu_check.sh --fetch [DEB_DIR]        (default build/gpu-debs)
#
# and unpacked (dpkg-deb -x, never into /) into a prefix folder by
#
#   scripts/gpu_check.sh LOG_FILE [--debs DEB_DIR] [--build DIR] [--python PY]
#
# which writes everything it does to LOG_FILE and exits non-zero when a step
# fails. Without --debs it uses the libraries installed on the machine.
# NCCL comes from the nvidia-nccl wheel beside PyTorch when there is one, else
# from the CUDA toolkit (NCCL_ROOT overrides both).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)

# packages the build needs beyond a compiler, CMake, CUDA and PyTorch, and
# their dependencies less what every Linux host has
packages=(libzmq3-dev cppzmq-dev libcxxopts-dev libyaml-cpp-dev
          libgtest-dev libgloo-dev libegl-dev ninja-build)
host_has='^(libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libgcc-s1|gcc-[0-9]+-base|libstdc\+\+6|'\
'libcrypt1|libcrypt-dev|zlib1g|liblzma5|libzstd1|libbz2-1\.0|libselinux1|libpcre2-8-0|libssl3|'\
'libtinfo6|libreadline8|readline-common|libpam.*|passwd|adduser|dpkg|tar|debconf|cdebconf|'\
'install-info|libaudit.*|libcap-ng0|libacl1|libsemanage.*|libsepol2|libdb5\.3|libnewt0\.52|'\
'libslang2|libtextwrap1|libdebian-installer4|libllvm[0-9]+|libgl1-mesa-dri|libz3-4|libicu.*|'\
'icu-devtools|libdrm.*|libegl-mesa0|libglx-mesa0|libgbm1|libglapi-mesa|libwayland.*|'\
'libsensors.*|libelf1|libexpat1|libffi8|libpciaccess0|libxshmfence1|libxxf86vm1|libxcb-.*)$'

if [[ "${1:-}" == "--fetch" ]]; then
  dir=${2:-build/gpu-debs}
  mkdir -p "$dir"
  mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances "${packages[@]}" |
    grep -v '^ ' | grep -v '^<' | sort -u | grep -Ev "$host_has")
  (cd "$dir" && apt-get download "${closure[@]}") || {
    echo "gpu_check: apt-get download failed (run apt-get update first?)" >&2
    exit 1
  }
  scripts/install_mujoco.sh --download "$dir" >/dev/null || exit 1
  echo "gpu_check: $(find "$dir" -name "*.deb" | wc -l) packages in $dir; copy it to the GPU" \
       "machine and run scripts/gpu_check.sh LOG --debs $dir"
  exit 0
fi

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: scripts/gpu_check.sh LOG_FILE [--debs DIR] [--build DIR] [--python PY]" >&2
  echo "       scripts/gpu_check.sh --fetch [DIR]" >&2
  exit 2
fi
log=$(realpath -m "$1")
shift
debs="" build=build-gpu python=python3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --debs) debs=$(realpath "$2"); shift 2 ;;
    --build) build=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    *) echo "gpu_check: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$log")"
: >"$log"
exec > >(tee -a "$log") 2>&1

failures=0
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
fail() { echo "gpu_check: FAILED: $*"; failures=$((failures + 1)); }

step "machine"
uname -a
nvidia-smi || fail "nvidia-smi: no NVIDIA driver or GPU"
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
echo "GPUs: $gpus"
nvcc --version || fail "no nvcc on PATH (add /usr/local/cuda/bin)"
cmake --version | head -1

step "PyTorch"
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
  { fail "$python cannot import torch"; exit 1; }
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  "available", torch.cuda.is_available(), "nccl", torch.cuda.nccl.version())'
torch_lib=$(dirname "$torch_prefix")/../lib
torch_lib=$(realpath "$torch_lib")
echo "LibTorch: $torch_prefix (libraries in $torch_lib)"
nccl_root=${NCCL_ROOT:-$("$python" -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' \
  2>/dev/null || true)}
if [[ -z "$nccl_root" ]]; then
  nccl_h=$(find /usr/local/cuda*/include /usr/include -name nccl.h 2>/dev/null | head -1)
  [[ -n "$nccl_h" ]] && nccl_root=$(dirname "$(dirname "$nccl_h")")
fi
echo "NCCL: ${nccl_root:-not found}"

prefix_path="$torch_prefix"
if [[ -n "$debs" ]]; then
  step "unpacking $(find "$debs" -name "*.deb" | wc -l) packages"
  prefix=$(realpath -m "$build/prefix")
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$prefix" || fail "dpkg-deb -x $deb"; done
  # configs written for /usr: point them at the prefix
  find "$prefix" -name '*.pc' -exec sed -i \
    -e "s#=/usr#=$prefix/usr#g" -e "s#-I/usr#-I$prefix/usr#g" -e "s#-L/usr#-L$prefix/usr#g" {} +
  arch=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
  export PKG_CONFIG_PATH="$prefix/usr/lib/$arch/pkgconfig:$prefix/usr/share/pkgconfig:${PKG_CONFIG_PATH:-}"
  export LD_LIBRARY_PATH="$prefix/usr/lib/$arch:$prefix/lib/$arch:${LD_LIBRARY_PATH:-}"
  export PATH="$prefix/usr/bin:$PATH"
  prefix_path="$prefix/usr;$torch_prefix"
  mujoco_wheel=$(ls "$debs"/mujoco-*.whl 2>/dev/null | head -1)
  scripts/install_mujoco.sh --wheel "${mujoco_wheel:-missing: run --fetch again}" \
    "$prefix/mujoco" || fail "MuJoCo from $debs"
  mujoco_dir=(-DROBOFLEET_MUJOCO_DIR="$prefix/mujoco")
else
  scripts/install_mujoco.sh "$(realpath -m "$build/mujoco")" || fail "scripts/install_mujoco.sh"
  mujoco_dir=(-DROBOFLEET_MUJOCO_DIR="$(realpath -m "$build/mujoco")")
fi
export LD_LIBRARY_PATH="$torch_lib:${nccl_root:+$nccl_root/lib:}${LD_LIBRARY_PATH:-}"

step "configure and build in $build"
# the wheel's libraries by name, never a system LibTorch that happens to be installed
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix_path" -DROBOFLEET_BUILD_TESTS=ON -DROBOFLEET_WITH_NCCL=ON \
  "${mujoco_dir[@]}" \
  -DTORCH_LIBRARY="$torch_lib/libtorch.so" -Dc10_LIBRARY="$torch_lib/libc10.so" \
  ${nccl_root:+-DNCCL_ROOT="$nccl_root"} ||
  { fail "cmake configure"; exit 1; }
cmake --build "$build" -j"$(nproc)" || { fail "build"; exit 1; }
bin="$build/launcher/robofleet"

step "GPU tests (ctest -L gpu) and the device and data-parallel unit tests"
ctest --test-dir "$build" -L gpu --output-on-failure || fail "ctest -L gpu"
ctest --test-dir "$build" -R 'DeviceTest|DataParallelTest|nccl_test' --output-on-failure ||
  fail "device and data-parallel tests"

mkdir -p "$build/gpu-check-runs"

step "PPO update samples/s on the GPU (robofleet bench learner --device cuda)"
for shape in "--hidden 64,64 --batch 4096 --minibatch 256 --epochs 10" \
             "--hidden 256,256 --batch 65536 --minibatch 8192 --epochs 5"; do
  # shellcheck disable=SC2086
  "$bin" bench learner $shape --device cuda --seconds 5 || fail "bench learner $shape (cuda)"
  # shellcheck disable=SC2086
  "$bin" bench learner $shape --device cpu --seconds 5 || fail "bench learner $shape (cpu)"
done

step "a short training run on the GPU (learner.device: cuda)"
run=$(realpath -m "$build/gpu-check-runs/cuda-$(date -u +%H%M%S)")
timeout 600 "$bin" train "$root/experiments/cartpole_swingup.yaml" --run-dir "$run" \
  --set learner.device=cuda --set train.total_env_steps=100000 --set train.record_video=false ||
  fail "training with learner.device: cuda"
tail -3 "$run/metrics.csv" 2>/dev/null

step "NCCL, world size 1 and 2"
# world size 1: the NCCL library's own GPU test ran above (nccl_gpu_test); two
# learner ranks over NCCL need two GPUs, or NCCL's consent to share one
ranks_log="$build/gpu-check-runs/nccl-ranks.log"
if [[ "$gpus" -ge 2 ]]; then
  what="2 ranks on 2 GPUs"
else
  what="2 ranks on one GPU"
fi
"$bin" bench learner --hidden 64,64 --batch 8192 --minibatch 1024 --epochs 5 --device cuda \
  --ranks 2 --backend nccl --seconds 5 2>&1 | tee "$ranks_log"
if grep -q "ranks over nccl" "$ranks_log"; then
  echo "gpu_check: NCCL with $what: works"
elif [[ "$gpus" -lt 2 ]] && grep -qiE "duplicate GPU|invalid usage|nccl setup" "$ranks_log"; then
  echo "gpu_check: NCCL refuses $what (as it usually does: one rank per GPU); not a failure"
else
  fail "NCCL with $what"
fi
run=$(realpath -m "$build/gpu-check-runs/ranks-$(date -u +%H%M%S)")
backend=nccl
[[ "$gpus" -lt 2 ]] && backend=gloo
timeout 600 "$bin" train "$root/experiments/cartpole_swingup.yaml" --run-dir "$run" \
  --set learner.device=cuda --set learner.count=2 --set actors.count=2 \
  --set learner.backend=$backend --set train.total_env_steps=60000 \
  --set train.record_video=false | tee "$run.out" || fail "two cuda ranks over $backend"
grep "parameters crc32c" "$run.out"
if [[ $(grep "parameters crc32c" "$run.out" | awk '{print $NF}' | sort -u | wc -l) == 1 ]]; then
  echo "gpu_check: two cuda ranks over $backend ended with identical parameters"
else
  fail "two cuda ranks over $backend: parameters differ or no checksum"
fi

step "done"
if ((failures)); then
  echo "gpu_check: $failures step(s) failed; see above"
  exit 1
fi
echo "gpu_check: every step passed"
