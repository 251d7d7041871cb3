#!/usr/bin/env bash
# The GPU benchmark in one command, for a lent GPU machine (results go to bench/RESULTS.md).
#
#   here, once:      bash bench/gpu.sh --fetch-wheels   (wheels the GPU image lacks, into .whl/)
#   on the device:   bash bench/gpu.sh                  (device run, carry [".whl"])
#
# One process per model shape (bench/latency_gpu.py), each cut off after 240 s so the whole
# command stays within the device's 10 minutes even if a compilation runs long; each shape
# writes its JSON after every measurement, so a cut-off run keeps what it measured.
# The GPU image has torch and transformers but not tree-sitter, which `codegen` imports
# through `validators`; the wheels make up for it. Output: $OUT (or bench/out)/gpu-*.json.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--fetch-wheels" ]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    for wheel in tree-sitter==0.26.1 tree-sitter-python==0.25.0; do
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 -d .whl "$wheel"
    done
    ls .whl
    exit 0
fi
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD"
fi
out="${OUT:-bench/out}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
for shape in ${SHAPES:-1.5B 7B}; do
    budget=150
    [ "$shape" = "7B" ] && budget=0   # 7B: CUDA graphs of the eager step only (no inductor)
    PYTHONUNBUFFERED=1 timeout 240 python3 -m bench.latency_gpu --shape "$shape" \
        --compile-budget "$budget" --out "$out/gpu-$shape.json" "$@" 2>&1 \
        | tee "$out/gpu-$shape.txt"
done
