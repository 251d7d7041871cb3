r"""Latency on a GPU for one model shape: Qwen2.5-Coder's exact shape with random weights.

One shape per process, so each shape's compilation and memory start clean:
``python3 -m bench.latency_gpu --shape 1.5B --out result.json`` (``bash bench/gpu.sh`` runs
the shapes one after the other within the device's 10 minutes). Random weights run at
exactly the speed of the real ones (../shared/MODELS.md); the output length is forced, so
each request decodes exactly ``--new-tokens``. Measured, in this order, and written to the
JSON file after each step (a run cut short keeps what it measured):

1. the machine's copy bandwidth and the **floor** of a request: bf16 weights ÷ bandwidth
   per decoded token (the prompt's matrix work at the measured bf16 rate added);
2. **plain** ``model.generate`` on a ``--prompt-tokens`` prompt, ``--new-tokens`` tokens;
3. the product's `Engine` with one slot (batch-1 latency needs no more), each request a
   prompt it has not seen (no prefix reuse): **eager**; with its decode step recorded as a
   **CUDA graph** (no compiler: seconds to build); with **int4** weights and a CUDA graph;
   and, within ``--compile-budget`` seconds, with the step **compiled** by inductor and
   recorded (bf16);
4. **keystroke**: the same prompt plus two tokens after the prompt was served: time to
   the first new token with prefix reuse (the fastest engine above).

Targets (issue 14): 1.5B ≤ 1.5 × floor (96 ms for 1.5k → 64) and ≥ 15 × plain generate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from codegen.runtime.engine import Engine
from codegen.runtime.generate import SamplingParams

SHAPES: dict[str, dict[str, Any]] = {
    # A tiny shape, for a smoke run of this script on a CPU (--device cpu --shape tiny).
    "tiny": {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 151936,
             "tie_word_embeddings": True},
    # Published configs of Qwen2.5-Coder (layers, sizes, heads, vocabulary, tying).
    "0.5B": {"num_hidden_layers": 24, "hidden_size": 896, "intermediate_size": 4864,
             "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
             "tie_word_embeddings": True},
    "1.5B": {"num_hidden_layers": 28, "hidden_size": 1536, "intermediate_size": 8960,
             "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
             "tie_word_embeddings": True},
    "7B": {"num_hidden_layers": 28, "hidden_size": 3584, "intermediate_size": 18944,
           "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
           "tie_word_embeddings": False},
}


def build(shape: str, device: str) -> Any:
    """A Qwen2 of the shape with random bf16 weights on the device."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=32768, rms_norm_eps=1e-6,
                         bos_token_id=151643, eos_token_id=151643)
    torch.manual_seed(0)
    with torch.device(device):
        model: Any = Qwen2ForCausalLM(config)
    return model.to(torch.bfloat16).eval()


def synchronize() -> None:
    """Wait for the GPU's queued work (nothing to wait for on a CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of `fn()` (synchronized), `repeats` times after one warm-up."""
    fn()
    synchronize()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        synchronize()
        out.append(time.perf_counter() - started)
    return out


def ceilings(device: str) -> tuple[float, float]:
    """Measured copy bandwidth (bytes/s, read + written) and bf16 matrix rate (FLOP/s)."""
    size, side = (2 * 2**30, 8192) if device == "cuda" else (2**26, 1024)
    source = torch.empty(size, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    copy = statistics.median(timed(lambda: target.copy_(source), 10))
    a = torch.randn(side, side, dtype=torch.bfloat16, device=device)
    b = torch.randn(side, side, dtype=torch.bfloat16, device=device)
    product = statistics.median(timed(lambda: a @ b, 10))
    return 2 * size / copy, 2 * side**3 / product


def weight_bytes(model: Any) -> int:
    """Bytes of the weights a decode step reads (tied embeddings counted once)."""
    seen: set[int] = set()
    total = 0
    for parameter in model.parameters():
        if parameter.data_ptr() not in seen:
            seen.add(parameter.data_ptr())
            total += parameter.numel() * parameter.element_size()
    return total


def prompts(count: int, length: int, seed: int) -> list[list[int]]:
    """Random token prompts (ids below the control tokens), none sharing a first token."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 151000, (length,), generator=generator).tolist()
            for _ in range(count)]


class Report:
    """The JSON result, written after every measurement."""

    def __init__(self, path: Path | None, **fields: Any) -> None:
        """Start the report with what describes the run."""
        self.path = path
        self.data: dict[str, Any] = dict(fields)
        self.save()

    def add(self, **fields: Any) -> None:
        """Record measurements and save."""
        self.data.update(fields)
        self.save()
        print(json.dumps(fields), flush=True)

    def save(self) -> None:
        """Write the report so far."""
        if self.path is not None:
            self.path.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")


def engine_p50(engine: Engine, args: argparse.Namespace, seed: int) -> float:
    """Median seconds of forced-length requests on prompts the engine has not seen."""
    fresh = iter(prompts(args.repeats + 1, args.prompt_tokens, seed=seed))
    params = SamplingParams(n=1, max_new_tokens=args.new_tokens)

    def one() -> None:
        ticket = engine.submit(next(fresh), params, (), cancel=threading.Event())
        assert ticket.result()[0].tokens == args.new_tokens

    return statistics.median(timed(one, args.repeats))


def ready(engine: Engine, args: argparse.Namespace, budget: float) -> tuple[bool, float]:
    """Serve one request so its step shape gets built; wait up to `budget` s for it."""
    started = time.perf_counter()
    params = SamplingParams(n=1, max_new_tokens=args.new_tokens)
    engine.submit(prompts(1, args.prompt_tokens, seed=99)[0], params, (),
                  cancel=threading.Event()).result()
    graphs = engine.graphs
    while graphs is not None and graphs.building and time.perf_counter() - started < budget:
        time.sleep(0.5)
    built = graphs is not None and graphs.enabled and not graphs.building and bool(graphs.shapes)
    return built, time.perf_counter() - started


def run(args: argparse.Namespace) -> int:
    """Measure one shape; see the module docstring for the order."""
    bandwidth, flops = ceilings(args.device)
    model = build(args.shape, args.device)
    weights = weight_bytes(model)
    floor = (args.new_tokens * weights / bandwidth
             + 2 * (weights // 2) * args.prompt_tokens / flops)
    report = Report(
        args.out, shape=args.shape, torch=torch.__version__,
        device=torch.cuda.get_device_name() if args.device == "cuda" else args.device,
        prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens,
        copy_bandwidth_tb_s=round(bandwidth / 1e12, 2), weights_gb=round(weights / 1e9, 2),
        floor_ms=round(floor * 1000, 1),
    )
    ids = torch.tensor([prompts(1, args.prompt_tokens, seed=1)[0]], device=args.device)

    def plain() -> None:
        with torch.inference_mode():
            model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                           max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                           pad_token_id=151643)

    plain_p50 = statistics.median(timed(plain, args.repeats))
    report.add(plain_generate_p50_ms=round(plain_p50 * 1000, 1))
    capacity = args.prompt_tokens + args.new_tokens + 64  # no request grows the cache
    variants: list[tuple[str, dict[str, Any], float]] = [
        ("eager", {"compiled": False}, 0.0),
        ("cuda_graph", {"compiled": True, "compile_model": False}, 120.0),
        ("int4_cuda_graph", {"compiled": True, "compile_model": False, "quantize": "int4"},
         120.0),
        ("compiled", {"compiled": True}, args.compile_budget),
    ]
    best = (float("inf"), "")
    for name, options, budget in variants:
        if name == "compiled" and budget <= 0:
            continue
        engine = Engine(model, lambda tokens: "", slots=1, capacity=capacity, **options)
        try:
            built, warm = ready(engine, args, budget) if options["compiled"] else (False, 0.0)
            if options["compiled"] and not built:
                report.add(**{f"{name}_error": engine.graphs.error if engine.graphs else "",
                              f"{name}_warm_s": round(warm, 1)})
                continue
            p50 = engine_p50(engine, args, seed=2)
            report.add(**{f"{name}_p50_ms": round(p50 * 1000, 1),
                          f"{name}_vs_floor": round(p50 / floor, 2),
                          f"plain_vs_{name}": round(plain_p50 / p50, 1),
                          f"{name}_warm_s": round(warm, 1),
                          f"{name}_graph_steps": engine.graphs.calls if engine.graphs else 0})
            if p50 < best[0]:
                best = (p50, name)
                report.add(keystroke_first_token_p50_ms=keystroke(engine, args), fastest=name)
        finally:
            engine.close()
    return 0


def keystroke(engine: Engine, args: argparse.Namespace) -> float:
    """Time to the first token of a prompt two tokens longer than one already served, ms."""
    firsts = []
    params = SamplingParams(n=1, max_new_tokens=args.new_tokens)
    for base in prompts(args.repeats, args.prompt_tokens, seed=3):
        engine.submit(base, SamplingParams(n=1, max_new_tokens=1), (),
                      cancel=threading.Event(), cache_key="doc").result()
        ticket = engine.submit(base + [11, 12], params, (), cancel=threading.Event(),
                               cache_key="doc")
        ticket.result()
        assert ticket.timing is not None
        firsts.append(ticket.timing.first_token)
    return round(statistics.median(firsts) * 1000, 1)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and measure one shape."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--shape", default="1.5B", choices=sorted(SHAPES))
    parser.add_argument("--prompt-tokens", type=int, default=1536)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile-budget", type=float, default=150.0,
                        help="seconds to wait for the inductor-compiled step (0: skip)")
    parser.add_argument("--device", default="cuda", help="cpu: a smoke run of the script")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("latency_gpu: no CUDA device", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
