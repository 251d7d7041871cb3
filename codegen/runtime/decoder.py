"""The engine's three kinds of forward pass over the slot cache.

* `prefill`: a chunk of one sequence's prompt, written straight into its slot;
* `decode`: one token for each of several slots, the rows of the slots in use;
* `verify`: a sequence's newest token and a draft's proposals, in its own slot.

Each sets the LoRA rows (`codegen.runtime.adapters`) for exactly its forward and clears them after.
A decode step without adapters runs through a compiled step (`codegen.runtime.graphs`) when one is
built for its shape, eagerly otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from codegen.runtime.adapters import AdapterBank
from codegen.runtime.forward import SlotModel
from codegen.runtime.graphs import Graphs, decode_rows
from codegen.runtime.kv import SlotCache


class Decoder:
    """Runs the model over the cache; the engine decides what to run."""

    def __init__(
        self,
        forward: SlotModel,
        cache: SlotCache,
        adapters: AdapterBank,
        graphs: Graphs | None,
    ) -> None:
        """Share the engine's model, cache, adapters and compiled steps."""
        self.forward = forward
        self.cache = cache
        self.adapters = adapters
        self.graphs = graphs
        self.device = forward.device

    def prefill(
        self, slot: int, chunk: Sequence[int], start: int, adapter: int | None
    ) -> torch.Tensor:
        """Feed one chunk at positions start.. of `slot`; logits [V] of its last token."""
        size = len(chunk)
        tokens = torch.tensor([list(chunk)], dtype=torch.long, device=self.device)  # [1, T]
        positions = torch.arange(start, start + size, device=self.device)[None]  # [1, T]
        pick = torch.tensor([size - 1], device=self.device)
        with self._rows({adapter: [0]} if adapter is not None else None, 1):
            out = self.forward.forward(
                self.cache.tensors, tokens, positions, pick, slot, start + size, exact=True
            )
        return out[0, 0]  # [V]

    def decode(
        self,
        feeds: Sequence[tuple[int, int, int]],
        adapters: Mapping[int, Sequence[int]],
    ) -> torch.Tensor:
        """Feed (slot, token, position) triples in one step; logits [rows, 1, V] by slot.

        `adapters` maps LoRA slots to the cache slots (rows) that use them. Rows between
        the slots in use are fed at the cache's last position, which no sequence reaches:
        a slot whose prompt is being read in chunks keeps what it holds.
        """
        rows = max(slot for slot, _, _ in feeds) + 1
        kv_len = max(position for _, _, position in feeds) + 1
        step = None
        if self.graphs is not None and not adapters:
            rows = decode_rows(rows, self.cache.slots)
            step = self.graphs.step(rows, kv_len)
        tokens = [0] * rows
        positions = [self.cache.capacity - 1] * rows
        for slot, token, position in feeds:
            tokens[slot] = token
            positions[slot] = position
        ids = torch.tensor(tokens, device=self.device)[:, None]  # [rows, 1]
        at = torch.tensor(positions, device=self.device)[:, None]
        if step is not None:
            return step(ids, at)
        pick = torch.zeros(1, dtype=torch.long, device=self.device)
        with self._rows(adapters or None, rows):
            return self.forward.forward(
                self.cache.tensors, ids, at, pick, 0, kv_len, exact=len(feeds) == rows
            )

    def verify(
        self, slot: int, tokens: Sequence[int], start: int, adapter: int | None
    ) -> torch.Tensor:
        """Feed `tokens` at positions start.. of one slot; logits [len(tokens), V]."""
        ids = torch.tensor([list(tokens)], device=self.device)
        positions = torch.arange(start, start + len(tokens), device=self.device)[None]
        pick = torch.arange(len(tokens), device=self.device)
        with self._rows({adapter: [0]} if adapter is not None else None, 1):
            out = self.forward.forward(
                self.cache.tensors, ids, positions, pick, slot, start + len(tokens)
            )
        return out[0]

    def _rows(self, rows: Mapping[int, Sequence[int]] | None, batch: int) -> _Rows:
        return _Rows(self.adapters, rows, batch)


class _Rows:
    """Set the adapter rows for one forward; clear them after, whatever happens."""

    def __init__(
        self, bank: AdapterBank, rows: Mapping[int, Sequence[int]] | None, batch: int
    ) -> None:
        self.bank = bank
        self.rows = rows
        self.batch = batch

    def __enter__(self) -> None:
        self.bank.rows = self.rows
        self.bank.batch = self.batch

    def __exit__(self, *exc_info: object) -> None:
        self.bank.rows = None
