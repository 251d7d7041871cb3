r"""Where a decode step's time goes: torch.profiler over the engine's forward, ops by kind.

Usage: ``.venv/bin/python -m bench.profile_step [--model SPEC] [--quantize int4]
[--context 1400]``. The model is loaded as `vetted` loads it; a random prompt of
``--context`` tokens is read, then ``--steps`` single-token decode steps are timed
without the profiler and profiled with it (on the compute thread, as the engine runs
them). The table gives each kind of op's share of the profiled CPU time, and the step
time beside the engine's own ms per token on the same prompt (sampling and the
per-token Python work around the forward are the difference).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from codegen.runtime.backends import RuntimeOptions, TorchBackend, load_backend
from codegen.runtime.compute import on_compute
from codegen.runtime.generate import SamplingParams
from codegen.runtime.model import parse_spec

KINDS = (
    ("int4/int8 matrix products", ("_weight_int4pack_mm", "_weight_int8pack_mm")),
    ("bf16 matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear")),
    ("attention", ("scaled_dot_product",)),
    ("keys/values written", ("index_put",)),
    ("norms", ("rms_norm",)),
)


def kind_of(name: str) -> str:
    """The kind of an op, by its profiler name."""
    for kind, needles in KINDS:
        if any(needle in name for needle in needles):
            return kind
    return "everything else (elementwise, views, copies, dispatch)"


def profile_steps(backend: TorchBackend, context: int, steps: int) -> list[str]:
    """Time and profile `steps` decode steps after a `context`-token prompt."""
    engine = backend.engine
    assert engine is not None
    forward, cache = engine.forward, engine.cache
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randint(1000, 100000, (context,), generator=generator).tolist()
    ticket = engine.submit(prompt, SamplingParams(n=1, max_new_tokens=steps + 1), (),
                           cancel=threading.Event())
    [generation] = ticket.result()
    timing = ticket.timing
    assert timing is not None
    engine_step = (timing.total - timing.first_token) / (generation.tokens - 1)

    def step(position: int) -> None:
        forward.forward(cache.tensors, torch.tensor([[7]]), torch.tensor([[position]]),
                        torch.zeros(1, dtype=torch.long), 0, position + 1, exact=True)

    def measure() -> tuple[float, Any]:
        with torch.no_grad():
            ids = torch.tensor([prompt])
            forward.forward(cache.tensors, ids, torch.arange(context)[None],
                            torch.tensor([context - 1]), 0, context)
            for position in range(context, context + 3):
                step(position)
            started = time.perf_counter()
            for position in range(context, context + steps):
                step(position)
            took = (time.perf_counter() - started) / steps
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for position in range(context, context + steps):
                    step(position)
        return took, prof

    took, prof = on_compute(measure)
    shares: dict[str, float] = {}
    for event in prof.key_averages():
        shares[kind_of(event.key)] = shares.get(kind_of(event.key), 0.0) + event.self_cpu_time_total
    total = sum(shares.values())
    rows = [f"| {kind} | {share / total * 100:.0f} % | {took * share / total * 1000:.1f} |"
            for kind, share in sorted(shares.items(), key=lambda item: -item[1])]
    return [
        f"Forward step {took * 1000:.1f} ms (no profiler); the engine's ms per token on the "
        f"same prompt {engine_step * 1000:.1f} (sampling and per-token work included).",
        "",
        "| op kind | share of profiled time | ms per step |",
        "|---|---:|---:|",
        *rows,
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--model", default="pypi:qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--quantize", default="int4")
    parser.add_argument("--context", type=int, default=1400)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    backend = load_backend(parse_spec(args.model), device="cpu",
                           runtime=RuntimeOptions(quantize=args.quantize))
    assert isinstance(backend, TorchBackend)
    try:
        print(f"{args.model}, {args.quantize}, {args.context} positions of context, "
              f"{torch.get_num_threads()} threads\n")
        print("\n".join(profile_steps(backend, args.context, args.steps)))
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
