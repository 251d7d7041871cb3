"""Compiled decode steps, built off the request path, one shape at a time as requests need them.

A decode step is compiled (`torch.compile`, inductor) for a shape: the rows of the batch,
rounded up to a power of two, and the cache positions attention reads, rounded up to a
power of two of at least `MIN_KV`. The engine asks `Graphs.step` for the shape of each
step; until that shape is built the step runs eagerly and the shape is queued for a
background thread, so a request never waits for a compilation. The cache's capacity
dimension is marked dynamic, so growing the cache does not recompile anything, and the
compiler's recompile limit is raised to the number of shapes there can be.

On a GPU each built shape is then recorded as a CUDA graph (on the engine thread, between
steps, in milliseconds): a step replays the recorded kernels instead of paying Python and
launch costs for each of them, which at batch 1 is most of the time of a step. Without
compilation (`compile_model=False`) the eager step is recorded.

Keys and values are written with `index_put_` into each layer's own cache tensor, which
inductor keeps in place (`tests/unit/codegen/test_graphs.py` reads the generated code).
Compiling and recording run the step on the real cache at its last position, which no
sequence reaches (the engine keeps a margin past every sequence's end), while the engine
goes on decoding: so the compiled step must write in place. A backend that copied each
cache tensor back whole (aot_eager's functionalized graphs) would put back stale values of
live positions; inductor's code is checked not to (tests use dynamo's "eager" backend).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from codegen.runtime.forward import SlotModel
from codegen.runtime.kv import SlotCache

logger = logging.getLogger(__name__)

MIN_KV = 256
"""Smallest attention length a graph is built for."""

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A built decode step: tokens [B, 1], positions [B, 1] → logits [B, 1, V]."""


def decode_rows(rows: int, slots: int) -> int:
    """The batch size a compiled decode step runs for `rows` rows: the next power of two."""
    return min(1 << (rows - 1).bit_length(), slots)


def kv_bucket(kv_len: int, capacity: int) -> int:
    """The attention length a compiled step reads for `kv_len` positions."""
    return min(max(MIN_KV, 1 << (kv_len - 1).bit_length()), capacity)


@dataclass
class _Recorded:
    """A CUDA graph of one shape and the tensors it reads and writes."""

    graph: torch.cuda.CUDAGraph
    tokens: torch.Tensor
    positions: torch.Tensor
    logits: torch.Tensor


class Graphs:
    """The compiled decode steps of one model over one cache."""

    def __init__(
        self,
        forward: SlotModel,
        cache: SlotCache,
        backend: str | None = None,
        compile_model: bool = True,
    ) -> None:
        """Plan compilation; `backend` None is inductor. Nothing is built until asked."""
        self.forward = forward
        self.cache = cache
        self.device = forward.device
        self.cuda = self.device.type == "cuda"
        self.enabled = True
        """False once building failed: every step then runs eagerly."""
        self.calls = 0
        """Forwards that ran through a built shape (compiled or recorded)."""
        self.error = ""
        self._compiled: Callable[..., torch.Tensor] = forward.forward
        if compile_model:
            self._compiled = torch.compile(
                forward.forward, backend=backend or "inductor", fullgraph=True, dynamic=False
            )
        self._compile_model = compile_model
        self._built: set[tuple[int, int]] = set()
        self._recorded: dict[tuple[int, int], _Recorded] = {}
        self._queue: list[tuple[int, int]] = []
        self._pool: Any = None
        self._wake = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        _raise_recompile_limit(decode_rows(cache.slots, cache.slots).bit_length() * 8)

    @property
    def building(self) -> bool:
        """True while shapes wait to be compiled."""
        with self._wake:
            return bool(self._queue)

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """(rows, attention length) of every built shape."""
        return sorted(self._built)

    def step(self, rows: int, kv_len: int) -> Step | None:
        """The built step for a shape, or None (and the shape is queued to be built)."""
        if not self.enabled:
            return None
        key = (rows, kv_bucket(kv_len, self.cache.capacity))
        if key in self._built:
            if not self.cuda:
                return self._cpu_step(key)
            recorded = self._recorded.get(key)
            if recorded is None:
                recorded = self._record(key)
            return self._replay(recorded) if recorded is not None else None
        self._want(key)
        return None

    def reset(self) -> None:
        """The cache tensors were reallocated (it grew): build the steps again.

        Their shapes changed, so the compiled entries no longer match; calling one would
        compile on the request path.
        """
        self._recorded.clear()
        self._built.clear()

    def close(self) -> None:
        """Stop the background compiler (after the shape it is building)."""
        with self._wake:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout=60)

    def _want(self, key: tuple[int, int]) -> None:
        with self._wake:
            if key in self._queue or self._closed:
                return
            self._queue.append(key)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._build_queued, name="vetted-compile", daemon=True
                )
                self._thread.start()

    def _build_queued(self) -> None:
        """The background compiler: build queued shapes one at a time, then end.

        The thread ends when the queue is empty: on a CPU a thread that ran parallel
        kernels keeps an OpenMP team, which would slow the compute thread's kernels
        (`codegen.runtime.compute`).
        """
        while True:
            with self._wake:
                if not self._queue or self._closed:
                    self._thread = None
                    return
                key = self._queue[0]
            try:
                if self._compile_model:
                    with torch.no_grad():  # the engine's grad mode: the compiled guards check it
                        self._run(key, self._scratch(key))
                    logger.info("compiled the decode step for %d rows, %d positions", *key)
                self._built.add(key)
            except Exception as exc:  # noqa: BLE001 - an optimisation must never fail a request
                logger.exception("compiling the decode step failed; decoding eagerly")
                self.error = f"{type(exc).__name__}: {exc}"
                self.enabled = False
            with self._wake:
                self._queue.remove(key)

    def _scratch(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs that write only the last cache position of each row (no sequence's)."""
        rows, _ = key
        tokens = torch.zeros((rows, 1), dtype=torch.long, device=self.device)
        positions = torch.full((rows, 1), self.cache.capacity - 1, device=self.device)
        return tokens, positions

    def _run(self, key: tuple[int, int], inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        tokens, positions = inputs
        pick = torch.zeros(1, dtype=torch.long, device=self.device)
        # Steps with LoRA rows run eagerly: the compiled one never reads the adapters.
        return self._compiled(self.cache.tensors, tokens, positions, pick, 0, key[1],
                              adapters=False)

    def _cpu_step(self, key: tuple[int, int]) -> Step:
        def run(tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            return self._run(key, (tokens, positions))

        return run

    def _record(self, key: tuple[int, int]) -> _Recorded | None:
        """Record a built shape as a CUDA graph (engine thread); None if that fails."""
        try:
            tokens, positions = self._scratch(key)
            side = torch.cuda.Stream()  # type: ignore[no-untyped-call]
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up, as CUDA graph capture requires
                    self._run(key, (tokens, positions))
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            # thread_local: the background compiler may use the GPU while this records.
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                logits = self._run(key, (tokens, positions))
        except Exception as exc:  # noqa: BLE001 - an optimisation must never fail a request
            logger.exception("recording the decode step as a CUDA graph failed; decoding eagerly")
            self.error = f"{type(exc).__name__}: {exc}"
            self.enabled = False
            return None
        recorded = _Recorded(graph, tokens, positions, logits)
        self._recorded[key] = recorded
        return recorded

    def _replay(self, recorded: _Recorded) -> Step:
        def run(tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
            recorded.tokens.copy_(tokens, non_blocking=True)
            recorded.positions.copy_(positions, non_blocking=True)
            recorded.graph.replay()
            self.calls += 1
            return recorded.logits.clone()  # the next replay overwrites the graph's output

        return run


def _raise_recompile_limit(shapes: int) -> None:
    """Let dynamo keep a compiled entry per shape (rows × lengths × a few cache sizes).

    Past its limit (8 by default) dynamo would silently run the step eagerly.
    """
    config: Any = torch._dynamo.config
    for name, floor in (("recompile_limit", 4 * shapes), ("cache_size_limit", 4 * shapes),
                        ("accumulated_recompile_limit", 16 * shapes),
                        ("accumulated_cache_size_limit", 16 * shapes)):
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), floor))
