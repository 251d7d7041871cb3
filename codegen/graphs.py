"""Compiled forwards for the engine: one per decode batch size and per prefill chunk length.

`torch.compile` specialises on shapes, so the engine only ever calls the compiled forward
with a few: decode batches rounded up to powers of two (one token per row) and prefill
chunks padded to `PREFILL_CHUNKS`. Decoding uses CUDA graphs ("reduce-overhead"): a step
replays recorded kernels instead of paying Python and launch costs for each of them,
which at batch 1 is most of the time of a step. The caches are marked static, so the
graphs write into them in place. Graphs are built one at a time while the engine is idle,
and a request never waits for a compilation: until a shape's graph exists, the engine
runs that shape eagerly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from codegen.forward import SlotModel
from codegen.kv import SlotCache

logger = logging.getLogger(__name__)

PREFILL_CHUNKS = (16, 64, 256, 512)
"""Prefill lengths: a prompt is fed in chunks of at most the last one, each padded (when
compiled) to the next of these, so four graphs serve every prompt."""

Forward = Callable[..., torch.Tensor]


def decode_rows(rows: int, slots: int) -> int:
    """The batch size a compiled decode step runs for `rows` rows: the next power of two."""
    return min(1 << (rows - 1).bit_length(), slots)


def prefill_length(size: int) -> int:
    """The padded length a compiled prefill runs for a chunk of `size` tokens."""
    return next(length for length in PREFILL_CHUNKS if length >= size)


class Graphs:
    """The compiled forwards of one model, built lazily, dropped when the caches change."""

    def __init__(self, forward: SlotModel, backend: str | None, slots: int) -> None:
        """Plan the graphs; `backend` None means inductor (CUDA graphs for decoding)."""
        self.forward = forward
        self.backend = backend
        self.enabled = True
        self._slots = slots
        self._built: dict[tuple[str, int], Forward] = {}

    @property
    def wanted(self) -> list[tuple[str, int]]:
        """Every (kind, size) a request may need."""
        sizes = sorted({decode_rows(rows, self._slots) for rows in range(1, self._slots + 1)})
        return [("decode", rows) for rows in sizes] + [("prefill", n) for n in PREFILL_CHUNKS]

    @property
    def ready(self) -> bool:
        """True when every graph is built (or compilation is off)."""
        return not self.enabled or all(key in self._built for key in self.wanted)

    def get(self, kind: str, size: int) -> Forward | None:
        """The compiled forward for a shape, if it was built."""
        return self._built.get((kind, size)) if self.enabled else None

    def reset(self) -> None:
        """Forget the graphs (the caches were reallocated); they are rebuilt while idle."""
        self._built.clear()

    def build_next(self, cache: SlotCache, staging: SlotCache) -> None:
        """Compile and run the next missing graph; on failure, turn compilation off."""
        missing = [key for key in self.wanted if key not in self._built]
        if not self.enabled or not missing:
            return
        kind, size = missing[0]
        try:
            target = cache if kind == "decode" else staging
            self._built[(kind, size)] = self._build(kind, size, target)
        except Exception:  # noqa: BLE001 - compilation is an optimisation, never a failure
            logger.exception("compiling the %s graph for %d failed; running eagerly", kind, size)
            self.enabled = False
            self._built.clear()
            return
        if self.ready:
            logger.info("compiled %d graphs", len(self._built))

    def _build(self, kind: str, size: int, target: SlotCache) -> Forward:
        # Each graph is one compiled entry of the same function: about a dozen, above
        # dynamo's default limit of 8, past which it would silently run eagerly.
        limit = len(self.wanted) + 4
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, limit)
        torch._dynamo.mark_static_address(target.data)
        if self.backend is None:
            mode = "reduce-overhead" if kind == "decode" else "default"
            graph = torch.compile(self.forward.forward, mode=mode, fullgraph=True, dynamic=False)
        else:
            graph = torch.compile(
                self.forward.forward, backend=self.backend, fullgraph=True, dynamic=False
            )
        device = self.forward.device
        rows, steps = (size, 1) if kind == "decode" else (1, size)
        tokens = torch.zeros((rows, steps), dtype=torch.long, device=device)
        positions = torch.arange(steps, device=device)[None].expand(rows, steps).contiguous()
        pick = torch.zeros(1, dtype=torch.long, device=device)
        for _ in range(3):  # CUDA graphs are recorded on the second or third call
            mark_step(device)
            graph(target.data, tokens, positions, pick, 0, target.capacity)
        return graph


def mark_step(device: torch.device) -> None:
    """Tell CUDA graph trees a new step begins (the previous step's outputs were consumed)."""
    if device.type == "cuda":
        torch.compiler.cudagraph_mark_step_begin()  # type: ignore[no-untyped-call]
