r"""Batch throughput: the same requests through `vetted batch`, batched and one at a time.

Usage: ``.venv/bin/python -m bench.throughput [--model pypi:qwen2.5-coder-0.5b-instruct]
[--requests 48] [--workers 8] [--data ../shared/data]``.

The requests are HumanEval single-line infilling cases (the first ``--requests`` of the
seeded subset of `bench.fim`), one greedy candidate each, ``--max-new-tokens`` 48, with the
product's validators. Both runs use `codegen.jobs.batch.run_batch` on one loaded model: with
``--workers`` requests in flight (the engine decodes them together, a finished request's
slot going to the next) and with one. Reported: requests/s, generated tokens/s, and the
ratio; the records of both runs are compared (greedy: the same completions are expected).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.fim_cases import DEFAULT_DATA, load_cases, pick_subset
from codegen.jobs import batch
from codegen.pipeline import Pipeline
from codegen.runtime.backends import TorchBackend, load_backend
from codegen.runtime.model import parse_spec
from prompts.templates import FimTemplate
from validators import close_validators, create_validators


def requests(data: Path, count: int) -> list[str]:
    """The batch input lines."""
    cases = pick_subset(load_cases(data), 200)[:count]
    return [json.dumps({"id": c.task_id, "prefix": c.prompt + "\n", "suffix": c.suffix})
            for c in cases]


def timed_run(
    pipeline: Pipeline, lines: Sequence[str], workers: int
) -> tuple[float, list[dict[str, Any]]]:
    """Seconds for the whole batch, and its records."""
    out = io.StringIO()
    started = time.perf_counter()
    counts = batch.run_batch(pipeline, lines, out, skip=set(), defaults={
        "n": 1, "max_new_tokens": 48, "temperature": 0.0}, workers=workers,
        stop=threading.Event())
    took = time.perf_counter() - started
    assert counts.done == len(lines) and counts.errors == 0, counts
    return took, [json.loads(line) for line in out.getvalue().splitlines()]


def main(argv: Sequence[str] | None = None) -> int:
    """Run both ways and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--model", default="pypi:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    backend = load_backend(parse_spec(args.model), device="cpu")
    assert isinstance(backend, TorchBackend)
    validators = create_validators(patient=True)
    pipeline = Pipeline(backend, FimTemplate(), validators=validators)
    lines = requests(args.data, args.requests)
    try:
        timed_run(pipeline, lines[:2], 1)  # warm mypy and the sandbox
        rows = []
        outputs = {}
        for workers in (1, args.workers):
            took, records = timed_run(pipeline, lines, workers)
            tokens = sum(r["timings"]["generated_tokens"] for r in records)
            rows.append((workers, took, tokens))
            outputs[workers] = [r["completions"] for r in records]
            print(f"[throughput] {workers} at once: {took:.1f} s", file=sys.stderr, flush=True)
    finally:
        close_validators(validators)
        backend.close()
    same = sum(a == b for a, b in zip(outputs[1], outputs[args.workers], strict=True))
    base = rows[0][1]
    print(f"Batch throughput, {args.model} on CPU, {len(lines)} requests "
          "(HumanEval single-line infilling, greedy, max_new_tokens 48, validators on)\n")
    print("| requests at once | seconds | requests/s | generated tokens/s | speed-up |")
    print("|---:|---:|---:|---:|---:|")
    for workers, took, tokens in rows:
        print(f"| {workers} | {took:.1f} | {len(lines) / took:.2f} | {tokens / took:.1f} | "
              f"{base / took:.2f} |")
    print(f"\nidentical completions in both runs: {same}/{len(lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
