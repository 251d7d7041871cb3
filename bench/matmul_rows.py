r"""bf16 against int4 weights by rows multiplied: where `QUANTIZED_UP_TO_ROWS` comes from.

Usage: ``.venv/bin/python -m bench.matmul_rows [--model SPEC] [--rows 1,4,16,32,64,256]``.
For each row count M, the time of every projection of the model (fused q/k/v, o,
gate/up, down; the output projection only at M = 1, as a prompt chunk needs its logits
for one position) multiplied by an [M, K] bf16 input, with the dense bf16 weights and
with the int4 ones, on the compute thread. A decode step multiplies one row per sequence;
a prompt chunk multiplies one row per token.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

import torch

from codegen.runtime.backends import RuntimeOptions, TorchBackend, load_backend
from codegen.runtime.compute import on_compute
from codegen.runtime.model import parse_spec


def time_rows(backend: TorchBackend, rows: int, repeats: int = 5) -> tuple[float, float]:
    """Seconds for all projections at `rows` rows: (bf16, int4)."""
    engine = backend.engine
    assert engine is not None
    projections = engine.forward.projections
    if rows > 1:
        projections = projections[:-1]  # the output projection reads one row per chunk

    def run() -> tuple[float, float]:
        inputs = [torch.randn(rows, p.shape[1], dtype=torch.bfloat16) for p in projections]
        result = []
        for mode in ("off", "int4"):
            times = []
            for _ in range(repeats + 1):
                started = time.perf_counter()
                for projection, x in zip(projections, inputs, strict=True):
                    projection(x, mode)
                times.append(time.perf_counter() - started)
            result.append(statistics.median(times[1:]))
        return result[0], result[1]

    return on_compute(run)


def main(argv: Sequence[str] | None = None) -> int:
    """Print one row per M."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--model", default="pypi:qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--rows", default="1,4,16,32,64,128,256")
    args = parser.parse_args(argv)
    backend = load_backend(parse_spec(args.model), device="cpu",
                           runtime=RuntimeOptions(quantize="int4"))
    assert isinstance(backend, TorchBackend)
    print(f"{args.model}: every projection × [M, K], {torch.get_num_threads()} threads\n")
    print("| M rows | bf16 ms | int4 ms | bf16 / int4 |")
    print("|---:|---:|---:|---:|")
    try:
        for rows in (int(r) for r in args.rows.split(",")):
            dense, quantized = time_rows(backend, rows)
            print(f"| {rows} | {dense * 1000:.1f} | {quantized * 1000:.1f} | "
                  f"{dense / quantized:.2f} |", flush=True)
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
