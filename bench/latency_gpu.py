r"""Latency on a GPU: Qwen2.5-Coder's exact shapes with random bf16 weights, against baselines.

Run on a GPU machine with ``bash bench/gpu.sh`` (or ``python3 -m bench.latency_gpu``).
Random weights run at exactly the speed of the real ones (../shared/MODELS.md); the output
length is forced (no stop tokens), so each request decodes exactly ``--new-tokens``.

Measured in one run, per shape (1.5B and 7B by default):

* the machine's ceilings: device-to-device copy bandwidth and a bf16 matrix product;
* **floor** of one request: weights ÷ bandwidth per decoded token, plus the prompt's
  matrix work (2 × parameters × tokens) at the measured matrix rate;
* **plain** ``model.generate`` on a ``--prompt-tokens`` prompt, ``--new-tokens`` tokens;
* **engine**: the product's `Engine` (compiled decoding with CUDA graphs, warmed up
  first), the same request, each time a prompt it has not seen (no prefix reuse);
* **keystroke**: the same prompt plus two tokens, after the prompt was served: time to the
  first new token with prefix reuse;
* **throughput** (1.5B): ``--requests`` requests, ``--streams`` in flight at once, each
  prompt sharing 90 % of its tokens with the others.

Targets (issue 5): 1.5B ≤ 1.5 × floor and ≥ 15 × faster than plain generate; 7B ≤ 1.4 ×
floor; keystroke first token ≤ 15 ms; ≥ 150 requests/s at 64 streams for 1.5B.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from codegen.engine import Engine
from codegen.generate import SamplingParams

SHAPES: dict[str, dict[str, Any]] = {
    # A tiny shape, for a smoke run of this script on a CPU (--device cpu --shapes tiny).
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


def timed(fn: Any, repeats: int) -> list[float]:
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


def prompts(count: int, length: int, shared: float = 0.0, seed: int = 0) -> list[list[int]]:
    """Random token prompts (ids below the control tokens); `shared` of each is common."""
    generator = torch.Generator().manual_seed(seed)
    common = torch.randint(0, 151000, (int(length * shared),), generator=generator).tolist()
    return [
        common + torch.randint(0, 151000, (length - len(common),), generator=generator).tolist()
        for _ in range(count)
    ]


def run_shape(
    shape: str, args: argparse.Namespace, bandwidth: float, flops: float
) -> dict[str, Any]:
    """Every measurement of one model shape."""
    model = build(shape, args.device)
    weights = weight_bytes(model)
    params = weights // 2
    floor = args.new_tokens * weights / bandwidth + 2 * params * args.prompt_tokens / flops
    result: dict[str, Any] = {"shape": shape, "weights_gb": round(weights / 1e9, 2),
                              "floor_ms": round(floor * 1000, 1)}
    print(f"[{shape}] weights {weights / 1e9:.2f} GB, floor {floor * 1000:.1f} ms", flush=True)

    ids = torch.tensor([prompts(1, args.prompt_tokens, seed=1)[0]], device=args.device)

    def plain() -> None:
        with torch.inference_mode():
            model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                           max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                           pad_token_id=151643)

    plain_s = timed(plain, args.repeats)
    result["plain_generate_p50_ms"] = round(statistics.median(plain_s) * 1000, 1)
    print(f"[{shape}] plain generate p50 {result['plain_generate_p50_ms']} ms", flush=True)

    started = time.perf_counter()
    # Room for the prompt, the output and the engine's margin, so no request grows the
    # slots (which would drop the compiled graphs).
    capacity = args.prompt_tokens + args.new_tokens + 1024
    engine = Engine(model, lambda tokens: "", slots=args.streams, capacity=capacity,
                    compiled=not args.eager)
    warm = SamplingParams(n=1, max_new_tokens=args.new_tokens)
    engine.submit(prompts(1, args.prompt_tokens, seed=9)[0], warm, (),
                  cancel=threading.Event()).result()
    while engine.graphs is not None and engine.graphs.building:
        time.sleep(0.5)
    result["warm_up_s"] = round(time.perf_counter() - started, 1)
    result["compiled"] = engine.graphs is not None and engine.graphs.enabled
    print(f"[{shape}] engine warm in {result['warm_up_s']} s (compiled: {result['compiled']})",
          flush=True)
    params_forced = SamplingParams(n=1, max_new_tokens=args.new_tokens)
    fresh = iter(prompts(args.repeats + 1, args.prompt_tokens, seed=2))

    def one() -> None:
        ticket = engine.submit(next(fresh), params_forced, (), cancel=threading.Event())
        assert ticket.result()[0].tokens == args.new_tokens

    engine_s = timed(one, args.repeats)
    p50 = statistics.median(engine_s)
    result.update(
        engine_p50_ms=round(p50 * 1000, 1),
        engine_vs_floor=round(p50 / floor, 2),
        plain_vs_engine=round(statistics.median(plain_s) / p50, 1),
    )
    print(f"[{shape}] engine p50 {p50 * 1000:.1f} ms = {p50 / floor:.2f}x floor, "
          f"{result['plain_vs_engine']}x faster than plain generate", flush=True)

    firsts = []
    for base in prompts(args.repeats, args.prompt_tokens, seed=3):
        engine.submit(base, SamplingParams(n=1, max_new_tokens=1), (),
                      cancel=threading.Event(), cache_key="doc").result()
        ticket = engine.submit(base + [11, 12], params_forced, (), cancel=threading.Event(),
                               cache_key="doc")
        ticket.result()
        assert ticket.timing is not None
        firsts.append(ticket.timing.first_token)
    result["keystroke_first_token_p50_ms"] = round(statistics.median(firsts) * 1000, 1)
    print(f"[{shape}] keystroke first token p50 {result['keystroke_first_token_p50_ms']} ms",
          flush=True)

    if shape == args.throughput_shape:
        result.update(throughput(engine, args))
    # Each shape's model and engine go before the next is built (gc frees the GPU memory).
    engine.close()
    return result


def throughput(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """Requests per second with `--streams` in flight, 90 % shared prefix."""
    pool = prompts(args.requests, args.prompt_tokens, shared=0.9, seed=4)
    params = SamplingParams(n=1, max_new_tokens=args.new_tokens)
    gate = threading.Semaphore(args.streams)
    tickets = []
    started = time.perf_counter()
    for ids in pool:
        gate.acquire()
        ticket = engine.submit(ids, params, (), cancel=threading.Event(), cache_key="shared")
        tickets.append(ticket)
        threading.Thread(target=_release_when_done, args=(ticket, gate), daemon=True).start()
    for ticket in tickets:
        ticket.result()
    took = time.perf_counter() - started
    rate = args.requests / took
    print(f"[throughput] {args.requests} requests, {args.streams} streams: {rate:.0f} req/s, "
          f"{rate * args.new_tokens:.0f} tokens/s, mean batch {engine.status()['meanBatch']}",
          flush=True)
    return {"throughput_requests_per_s": round(rate, 1),
            "throughput_tokens_per_s": round(rate * args.new_tokens),
            "throughput_mean_batch": engine.status()["meanBatch"]}


def _release_when_done(ticket: Any, gate: threading.Semaphore) -> None:
    ticket.result()
    gate.release()


def main(argv: Sequence[str] | None = None) -> int:
    """Run every shape and print one JSON report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--shapes", default="1.5B,7B")
    parser.add_argument("--prompt-tokens", type=int, default=1536)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--throughput-shape", default="1.5B")
    parser.add_argument("--eager", action="store_true", help="no compiled graphs")
    parser.add_argument("--device", default="cuda", help="cpu: a smoke run of the script")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("latency_gpu: no CUDA device", file=sys.stderr)
        return 2
    bandwidth, flops = ceilings(args.device)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else args.device,
        "torch": torch.__version__,
        "copy_bandwidth_tb_s": round(bandwidth / 1e12, 2),
        "bf16_matmul_tflop_s": round(flops / 1e12),
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "shapes": [run_shape(s, args, bandwidth, flops) for s in args.shapes.split(",")],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
