#!/usr/bin/env bash
# How issue 3's GPU comparison is run: kleene's CubeCL selective scan on burn-cuda
# (examples/scan_gpu_bench.rs) against mamba-ssm's CUDA kernel (benches/gpu/mamba_ssm_bench.py),
# same shapes, same columns, same GPU, same session. NOT RUN YET: no GPU was lent to the task that
# wrote it (docs/benchmarks.md says the GPU run is owed).
#
# The device machine (the `device` tool's nvidia-h100-x1) has PyTorch, nvcc and the CUDA driver
# but no network, and a command runs at most 10 minutes. So:
#
#   1. here, on the build machine:       benches/gpu/run_on_h100.sh prepare
#      builds the example in release, copies the binary, mamba-ssm's source distribution and the
#      small pure-Python/build wheels it needs into gpu-carry/ (git-ignored via info/exclude);
#   2. device run, carry ["gpu-carry"]:  bash benches/gpu/run_on_h100.sh build-mamba
#      builds mamba-ssm for sm_90 only and installs it (stays installed while the machine is warm);
#   3. device run, carry ["gpu-carry"]:  bash benches/gpu/run_on_h100.sh bench
#      runs both benchmarks and writes $OUT/kleene.txt and $OUT/mamba_ssm.txt.
#
# Record both tables in docs/benchmarks.md (section kleene-scan) with the device name printed by
# nvidia-smi; compare only numbers from one machine and one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
CARRY=gpu-carry
MAMBA_VERSION="${MAMBA_VERSION:-2.2.4}"
ITERS="${ITERS:-20}"

case "${1:-}" in
prepare)
    exclude="$(git rev-parse --git-path info/exclude)"
    grep -qx "/$CARRY/" "$exclude" 2>/dev/null || echo "/$CARRY/" >>"$exclude"
    mkdir -p "$CARRY"
    cargo build --release -p kleene --features cuda --example scan_gpu_bench
    cp "${CARGO_TARGET_DIR:-target}/release/examples/scan_gpu_bench" "$CARRY/"
    python3 -m pip download --no-deps --no-binary :all: "mamba-ssm==$MAMBA_VERSION" -d "$CARRY"
    # einops: imported by selective_scan_interface; ninja: parallel nvcc build.
    python3 -m pip download --no-deps --only-binary :all: einops ninja -d "$CARRY"
    du -sh "$CARRY"
    ;;
build-mamba)
    nvidia-smi --query-gpu=name,driver_version --format=csv
    python3 -m pip install --no-index --no-deps "$CARRY"/einops-*.whl "$CARRY"/ninja-*.whl
    rm -rf /tmp/mamba-src && mkdir -p /tmp/mamba-src
    tar xzf "$CARRY"/mamba_ssm-"$MAMBA_VERSION".tar.gz -C /tmp/mamba-src
    src="/tmp/mamba-src/mamba_ssm-$MAMBA_VERSION"
    # setup.py adds one "-gencode arch=compute_XX,code=sm_XX" pair per architecture; keep sm_90.
    python3 - "$src/setup.py" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
pat = re.compile(r'\s*cc_flag\.append\("-gencode"\)\s*cc_flag\.append\("arch=compute_(\w+),code=sm_\w+"\)')
s2 = pat.sub(lambda m: m.group(0) if m.group(1) == "90" else "", s)
print("kept", len(pat.findall(s2)), "of", len(pat.findall(s)), "gencode pairs")
open(p, "w").write(s2)
PY
    (cd "$src" && MAMBA_FORCE_BUILD=TRUE MAMBA_SKIP_CUDA_BUILD=FALSE MAX_JOBS=16 \
        python3 -m pip install --no-build-isolation --no-deps -v . 2>&1 | tail -5)
    python3 -c "import selective_scan_cuda; print('selective_scan_cuda ok')"
    ;;
bench)
    nvidia-smi --query-gpu=name,driver_version --format=csv | tee "${OUT:-.}/device.txt"
    "./$CARRY/scan_gpu_bench" "$ITERS" | tee "${OUT:-.}/kleene.txt"
    python3 benches/gpu/mamba_ssm_bench.py "$ITERS" | tee "${OUT:-.}/mamba_ssm.txt"
    ;;
*)
    echo "usage: $0 prepare | build-mamba | bench" >&2
    exit 2
    ;;
esac
