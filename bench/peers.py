"""What `bench.latency` compares the engine with: plain transformers, llama.cpp, the int4 floor.

Every torch computation here runs on the process's compute thread (`codegen.runtime.compute`), as
the engine's does: libgomp slows every thread's parallel kernels down once two threads
have run them (see that module), which would penalise whichever side ran second.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from codegen.runtime.compute import on_compute
from codegen.runtime.forward import SlotModel
from prompts.templates import STOP_TOKEN_IDS

LLAMA_PYTHON = Path(__file__).resolve().parent / ".venv-llama" / "bin" / "python"
"""The benchmark-only environment with llama-cpp-python (``bash bench/llama_env.sh``)."""


@dataclass(frozen=True)
class Run:
    """One generation: seconds to the first token and in all, tokens generated."""

    first: float
    total: float
    tokens: int

    @property
    def per_token(self) -> float:
        """Seconds per token after the first."""
        return (self.total - self.first) / max(self.tokens - 1, 1)


class FirstToken:
    """A transformers streamer that notes when the first generated token arrives."""

    def __init__(self) -> None:
        """Start with no tokens seen."""
        self.calls = 0
        self.first: float | None = None

    def put(self, value: Any) -> None:
        """Called with the prompt first, then with each new token."""
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = time.perf_counter()

    def end(self) -> None:
        """Called once generation ends."""


def plain_generate(model: Any, ids: Sequence[int], new_tokens: int, forced: bool) -> Run:
    """Greedy ``model.generate`` (what a plain transformers server runs), on the compute thread.

    Not forced, it stops at the product's stop tokens; it has no single-line rule.
    """

    def run() -> Run:
        inputs = torch.tensor([list(ids)])
        streamer = FirstToken()
        extra: dict[str, Any] = {"min_new_tokens": new_tokens} if forced else {}
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=new_tokens,
                do_sample=False, eos_token_id=sorted(STOP_TOKEN_IDS), pad_token_id=151643,
                streamer=streamer, **extra,
            )
        total = time.perf_counter() - started
        first = (streamer.first or time.perf_counter()) - started
        return Run(first, total, int(out.shape[1] - inputs.shape[1]))

    return on_compute(run)


def int4_floor(forward: SlotModel, mode: str = "int4", repeats: int = 20) -> float:
    """Seconds of one decode step's quantized matrix products alone (batch 1): the floor.

    The same kernel calls on the same weights as the engine's step (fused projections and
    the output projection), with nothing between them.
    """
    def run() -> float:
        calls = [
            (p.quantized[mode], torch.randn(1, p.shape[1], dtype=torch.bfloat16))
            for p in forward.projections
        ]
        for weight, x in calls:
            weight.matmul(x)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            for weight, x in calls:
                weight.matmul(x)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return on_compute(run)


class LlamaWorker:
    """llama.cpp in the benchmark-only environment, driven over a pipe (`bench.llama_worker`)."""

    def __init__(self, gguf: Path, threads: int, context: int = 4096) -> None:
        """Start the worker and load the GGUF file."""
        if not LLAMA_PYTHON.is_file():
            raise RuntimeError(f"{LLAMA_PYTHON} is missing: run `bash bench/llama_env.sh` once")
        script = Path(__file__).resolve().parent / "llama_worker.py"
        self._process = subprocess.Popen(
            [str(LLAMA_PYTHON), str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )
        self._ask({"load": str(gguf), "threads": threads, "context": context})

    def generate(self, ids: Sequence[int], new_tokens: int, *, forced: bool,
                 reset: bool) -> tuple[Run, int]:
        """Greedy tokens for a prompt (its prefix cache kept unless `reset`); (run, reused)."""
        answer = self._ask({"ids": list(ids), "new_tokens": new_tokens, "forced": forced,
                            "reset": reset, "stop_ids": sorted(STOP_TOKEN_IDS)})
        return Run(answer["first_s"], answer["total_s"], len(answer["tokens"])), answer["reused"]

    def close(self) -> None:
        """Stop the worker."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=60)

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the llama.cpp worker died (see its stderr above)")
        answer: dict[str, Any] = json.loads(line)
        return answer
