"""Key/value memory: a preallocated slot cache for running sequences and a prefix cache.

`SlotCache` holds keys and values [S, H, C, D] per layer: S sequence slots, H KV heads,
C positions, D head size. A running sequence owns a slot; position p of
its slot holds the keys and values of its p-th token. Nothing is ever concatenated, so the
memory and the tensor addresses stay fixed (what CUDA graphs need), and forgetting tokens
(a rejected speculation, a finished sequence) is only a matter of the length kept outside.

`PrefixCache` keeps the KV of recent prompts, [L, 2, H, T, D] each, so that the next
request of the same document (a keystroke later) or one sharing its repository context
starts from the longest common token prefix and prefills only the rest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KvShape:
    """What one position of one sequence needs: layers, KV heads, head size, dtype, device."""

    layers: int
    heads: int
    head_dim: int
    dtype: torch.dtype
    device: torch.device

    @property
    def bytes_per_position(self) -> int:
        """Bytes of keys and values one token takes in every layer."""
        element = torch.empty((), dtype=self.dtype).element_size()
        return self.layers * 2 * self.heads * self.head_dim * element


class SlotCache:
    """Keys and values of up to `slots` sequences of up to `capacity` positions each.

    One keys and one values tensor [S, H, C, D] per layer: a forward writes a layer's new
    keys with one `index_put_` into that layer's own tensor, which a compiler can keep in
    place (a write into a view of one tensor holding every layer was copied whole, once per
    layer per step, by inductor).
    """

    def __init__(self, shape: KvShape, slots: int, capacity: int) -> None:
        """Allocate the whole cache at once (zeros)."""
        self.shape = shape
        self.keys = [self._zeros(slots, capacity) for _ in range(shape.layers)]
        self.values = [self._zeros(slots, capacity) for _ in range(shape.layers)]

    def _zeros(self, slots: int, capacity: int) -> torch.Tensor:
        shape = self.shape
        return torch.zeros(
            (slots, shape.heads, capacity, shape.head_dim), dtype=shape.dtype, device=shape.device
        )  # [S, H, C, D]

    @property
    def tensors(self) -> list[torch.Tensor]:
        """Every layer's keys, then every layer's values."""
        return [*self.keys, *self.values]

    @property
    def slots(self) -> int:
        """S: how many sequences fit."""
        return int(self.keys[0].shape[0])

    @property
    def capacity(self) -> int:
        """C: positions per sequence."""
        return int(self.keys[0].shape[2])

    @property
    def nbytes(self) -> int:
        """Memory the cache takes."""
        return sum(t.numel() * t.element_size() for t in self.tensors)

    def grow(self, capacity: int) -> None:
        """Make room for `capacity` positions per slot, keeping what is stored."""
        if capacity <= self.capacity:
            return
        old = self.capacity
        for store in (self.keys, self.values):
            for index, tensor in enumerate(store):
                bigger = self._zeros(self.slots, capacity)
                bigger[:, :, :old] = tensor
                store[index] = bigger

    def load(self, slot: int, kv: torch.Tensor) -> None:
        """Put a saved prefix [L, 2, H, T, D] at positions 0..T-1 of `slot`."""
        length = int(kv.shape[3])
        for layer in range(self.shape.layers):
            self.keys[layer][slot, :, :length] = kv[layer, 0]
            self.values[layer][slot, :, :length] = kv[layer, 1]

    def save(self, slot: int, length: int) -> torch.Tensor:
        """A copy of positions 0..length-1 of `slot`, [L, 2, H, T, D]."""
        return torch.stack([
            torch.stack([k[slot, :, :length], v[slot, :, :length]])
            for k, v in zip(self.keys, self.values, strict=True)
        ])

    def copy(self, source: int, target: int, length: int) -> None:
        """Copy positions 0..length-1 from one slot to another (alternatives of one prompt)."""
        for tensor in self.tensors:
            tensor[target, :, :length] = tensor[source, :, :length]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass(frozen=True)
class Hit:
    """A cached prefix [L, 2, H, T, D] and how many leading tokens of the new prompt it covers."""

    kv: torch.Tensor
    reused: int


class PrefixCache:
    """The KV of recent prompts (one per key: a document), found by longest common prefix.

    A new prompt reuses the entry that shares the most leading tokens with it, whatever
    its key, so the repository context shared between documents is reused too. Entries are
    evicted least recently used first when their tensors exceed `budget_bytes`.
    """

    def __init__(self, budget_bytes: int) -> None:
        """An empty cache holding at most `budget_bytes` of tensors."""
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[str, tuple[tuple[int, ...], torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.reused_tokens = 0

    def lookup(self, ids: Sequence[int], minimum: int = 8, namespace: str = "") -> Hit | None:
        """The longest cached prefix of `ids`: at least `minimum` tokens, one token left over.

        One token always stays to be computed, because its logits start the generation.
        Only entries stored under the same `namespace` count (keys and values computed with
        a LoRA adapter differ from the base model's).
        """
        with self._lock:
            best: tuple[int, str] | None = None
            for key, (cached, _) in self._entries.items():
                if key.partition("\x00")[0] != namespace:
                    continue
                shared = min(common_prefix(cached, ids), len(ids) - 1)
                if shared >= minimum and (best is None or shared > best[0]):
                    best = (shared, key)
            if best is None:
                self.misses += 1
                return None
            shared, key = best
            self._entries.move_to_end(key)
            self.hits += 1
            self.reused_tokens += shared
            return Hit(self._entries[key][1][:, :, :, :shared], shared)

    def store(self, key: str, ids: Sequence[int], kv: torch.Tensor, namespace: str = "") -> None:
        """Remember the KV [L, 2, H, T, D] of the tokens `ids` under `key`, evicting to fit."""
        assert int(kv.shape[3]) == len(ids), (kv.shape, len(ids))
        key = f"{namespace}\x00{key}"
        size = kv.numel() * kv.element_size()
        with self._lock:
            self._entries.pop(key, None)
            if size > self.budget_bytes:
                return
            self._entries[key] = (tuple(ids), kv)
            while self._total() > self.budget_bytes:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (the model changed)."""
        with self._lock:
            self._entries.clear()

    def _total(self) -> int:
        return sum(kv.numel() * kv.element_size() for _, kv in self._entries.values())

    @property
    def nbytes(self) -> int:
        """Memory held by the cached tensors."""
        with self._lock:
            return self._total()

    def __len__(self) -> int:
        """Number of cached prompts."""
        with self._lock:
            return len(self._entries)
