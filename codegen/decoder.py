"""The engine's three kinds of forward pass over the slot cache, compiled or eager.

* `prefill_chunk`: up to 512 prompt tokens of one sequence, in the staging slot;
* `decode`: one token for each of several slots, the rows of the slots in use;
* `verify`: a sequence's newest token and a draft's proposals, in its own slot.

Each sets the LoRA rows (`codegen.adapters`) for exactly its forward and clears them after,
and uses a compiled graph (`codegen.graphs`) when one exists for the shape and no adapter
is involved (the graphs are built for the base model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from codegen.adapters import AdapterBank
from codegen.forward import SlotModel
from codegen.graphs import Graphs, decode_rows, mark_step, prefill_length
from codegen.kv import SlotCache


class Decoder:
    """Runs the model over the caches; the engine decides what to run."""

    def __init__(
        self,
        forward: SlotModel,
        cache: SlotCache,
        adapters: AdapterBank,
        graphs: Graphs | None,
    ) -> None:
        """Share the engine's model, cache, adapters and graphs."""
        self.forward = forward
        self.cache = cache
        self.adapters = adapters
        self.graphs = graphs
        self.device = forward.device

    def prefill_chunk(
        self,
        forward: SlotModel,
        staging: SlotCache,
        chunk: Sequence[int],
        start: int,
        adapter: int | None = None,
    ) -> torch.Tensor:
        """Feed one chunk at positions start.. of staging slot 0; logits [V] of its last token.

        `forward` and `staging` are the engine's, or the draft model's.
        """
        size = len(chunk)
        padded = size
        graph = None
        if adapter is None and self.graphs is not None and forward is self.forward:
            padded = prefill_length(size)
            graph = self.graphs.get("prefill", padded)
        tokens = torch.zeros((1, padded), dtype=torch.long)
        tokens[0, :size] = torch.tensor(chunk, dtype=torch.long)
        positions = torch.arange(start, start + padded)[None]  # [1, T]
        pick = torch.tensor([size - 1])
        args = (tokens.to(self.device), positions.to(self.device), pick.to(self.device))
        with self._rows({adapter: [0]} if adapter is not None else None):
            if graph is not None:
                out = graph(staging.data, *args, 0, staging.capacity)
            else:
                out = forward.forward(staging.data, *args, 0, start + size)
        return out[0, 0]  # [V]

    def decode(
        self,
        feeds: Sequence[tuple[int, int, int]],
        adapters: Mapping[int, Sequence[int]],
    ) -> torch.Tensor:
        """Feed (slot, token, position) triples in one step; logits [rows, 1, V] by slot.

        `adapters` maps LoRA slots to the cache slots (rows) that use them.
        """
        rows = max(slot for slot, _, _ in feeds) + 1
        graph = None
        if self.graphs is not None and not adapters:
            rows = decode_rows(rows, self.cache.slots)
            graph = self.graphs.get("decode", rows)
        tokens = torch.zeros((rows, 1), dtype=torch.long)
        positions = torch.zeros((rows, 1), dtype=torch.long)
        for slot, token, position in feeds:
            tokens[slot, 0] = token
            positions[slot, 0] = position
        pick = torch.zeros(1, dtype=torch.long, device=self.device)
        args = (tokens.to(self.device), positions.to(self.device), pick)
        if graph is not None:
            mark_step(self.device)
            return graph(self.cache.data, *args, 0, self.cache.capacity).clone()
        kv_len = max(position for _, _, position in feeds) + 1
        with self._rows(adapters or None):
            return self.forward.forward(self.cache.data, *args, 0, kv_len)

    def verify(
        self, slot: int, tokens: Sequence[int], start: int, adapter: int | None
    ) -> torch.Tensor:
        """Feed `tokens` at positions start.. of one slot; logits [len(tokens), V]."""
        ids = torch.tensor([list(tokens)], device=self.device)
        positions = torch.arange(start, start + len(tokens), device=self.device)[None]
        pick = torch.arange(len(tokens), device=self.device)
        with self._rows({adapter: [0]} if adapter is not None else None):
            out = self.forward.forward(
                self.cache.data[:, :, slot : slot + 1], ids, positions, pick, 0,
                start + len(tokens),
            )
        return out[0]

    def _rows(self, rows: Mapping[int, Sequence[int]] | None) -> _Rows:
        return _Rows(self.adapters, rows)


class _Rows:
    """Set the adapter rows for one forward; clear them after, whatever happens."""

    def __init__(self, bank: AdapterBank, rows: Mapping[int, Sequence[int]] | None) -> None:
        self.bank = bank
        self.rows = rows

    def __enter__(self) -> None:
        self.bank.rows = self.rows

    def __exit__(self, *exc_info: object) -> None:
        self.bank.rows = None
