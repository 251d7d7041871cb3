"""Key/value memory: a preallocated slot cache for running sequences and a prefix cache.

`SlotCache` holds one tensor [L, 2, S, H, C, D]: L layers, keys and values, S sequence
slots, H KV heads, C positions, D head size. A running sequence owns a slot; position p of
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
    """Keys and values of up to `slots` sequences of up to `capacity` positions each."""

    def __init__(self, shape: KvShape, slots: int, capacity: int) -> None:
        """Allocate the whole cache at once (zeros)."""
        self.shape = shape
        self.data = torch.zeros(
            (shape.layers, 2, slots, shape.heads, capacity, shape.head_dim),
            dtype=shape.dtype,
            device=shape.device,
        )  # [L, 2, S, H, C, D]

    @property
    def slots(self) -> int:
        """S: how many sequences fit."""
        return int(self.data.shape[2])

    @property
    def capacity(self) -> int:
        """C: positions per sequence."""
        return int(self.data.shape[4])

    @property
    def nbytes(self) -> int:
        """Memory the cache takes."""
        return self.data.numel() * self.data.element_size()

    def grow(self, capacity: int) -> None:
        """Make room for `capacity` positions per slot, keeping what is stored."""
        if capacity <= self.capacity:
            return
        bigger = self.data.new_zeros((*self.data.shape[:4], capacity, self.data.shape[5]))
        bigger[:, :, :, :, : self.capacity] = self.data
        self.data = bigger

    def load(self, slot: int, kv: torch.Tensor) -> None:
        """Put a saved prefix [L, 2, H, T, D] at positions 0..T-1 of `slot`."""
        length = int(kv.shape[3])
        self.data[:, :, slot, :, :length] = kv

    def save(self, slot: int, length: int) -> torch.Tensor:
        """A copy of positions 0..length-1 of `slot`, [L, 2, H, T, D]."""
        return self.data[:, :, slot, :, :length].clone()

    def copy(self, source: int, target: int, length: int) -> None:
        """Copy positions 0..length-1 from one slot to another (alternatives of one prompt)."""
        self.data[:, :, target, :, :length] = self.data[:, :, source, :, :length]


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
