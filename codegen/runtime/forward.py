"""The decoder's forward pass over a `SlotCache`: any block of slots, any positions per row.

transformers' own forward keeps one position counter for a whole batch and grows its cache
by concatenation, which rules out sequences at different lengths sharing a decode step and
rules out CUDA graphs. This module runs the same layers of a loaded Qwen2 (or Llama-shaped)
model with its own lean step (`codegen.runtime.weights`: fused projections, optionally quantized;
rotary tables computed once; attention written against the slot cache):

* rows ``lo .. lo+B-1`` of the cache are the batch; row b feeds T tokens at absolute
  positions ``positions[b]`` and writes their keys and values there;
* a query at position p sees exactly the cache positions 0..p of its own row. Whatever a
  row holds beyond its length (a rejected speculation, prefill padding) is never read,
  because it is overwritten before a query can reach it.

Shapes: B rows, T tokens per row, K kept positions, C cache positions, H KV heads,
Q query heads (G = Q / H per KV head), D head size, E hidden size, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from codegen.runtime.adapters import AdapterBank
from codegen.runtime.kv import KvShape
from codegen.runtime.weights import Projection, projections, quantize, read_layers

SUPPORTED_TYPES = ("qwen2", "llama")
"""Model types whose decoder layers this forward reproduces exactly."""

GROUPED_UP_TO = 8
"""Queries per row up to which attention runs over the queries of each KV head stacked
into one sequence (decoding, verifying). torch's CPU attention kernel is slow for a
one-query sequence: over 1,400 bf16 positions it took 0.81 ms per layer with the 14 query
heads as they are and 0.08 ms with them stacked onto the 2 KV heads (0.5B shapes)."""


class UnsupportedModel(ValueError):
    """The model's architecture is not one this forward implements."""


class SlotModel:
    """A causal LM's layers, driven over a slot cache."""

    def __init__(self, model: torch.nn.Module, adapters: AdapterBank | None = None) -> None:
        """Check the architecture and take (fused) references to the model's weights."""
        config: Any = getattr(model, "config", None)
        model_type = getattr(config, "model_type", None)
        if model_type not in SUPPORTED_TYPES:
            raise UnsupportedModel(f"no slot forward for model type {model_type!r}")
        layer_types = getattr(config, "layer_types", None) or []
        if any(kind != "full_attention" for kind in layer_types):
            raise UnsupportedModel("sliding-window attention layers are not supported")
        inner: Any = getattr(model, "model", None)
        if inner is None or not hasattr(inner, "layers"):
            raise UnsupportedModel("expected model.model.layers (a decoder-only LM)")
        self.model = model
        self.inner = inner
        self.adapters = adapters
        """LoRA updates for the rows that use them (None: the model serves no adapters)."""
        self.heads = int(config.num_attention_heads)
        self.kv_heads = int(config.num_key_value_heads)
        self.head_dim = int(
            getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        )
        self.hidden = int(config.hidden_size)
        self.eps = float(config.rms_norm_eps)
        self.vocab_size = int(config.vocab_size)
        self.max_positions = int(getattr(config, "max_position_embeddings", 0) or 0)
        self.layers, self.head = read_layers(model)
        self.embed: torch.Tensor = inner.embed_tokens.weight.data
        self.final_norm: torch.Tensor = inner.norm.weight.data
        weight = self.embed
        self.kv_shape = KvShape(
            len(inner.layers), self.kv_heads, self.head_dim, weight.dtype, weight.device
        )
        self._cos = torch.empty(0)
        self._sin = torch.empty(0)
        self.mode = "off"
        """The decoding weights: "off" (dense), "int4" or "int8"."""
        self.quantization = "off"
        """What `quantize` did, for status."""

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return self.kv_shape.device

    def quantize(self, mode: str, gguf: Path | None = None, saved: Path | None = None) -> None:
        """Decode with `mode` ("int4" or "int8") weights; the dense ones stay for prompts.

        See `codegen.runtime.weights.quantize` for `gguf` (the source file) and `saved`.
        """
        self.quantization = quantize(self.layers, self.head, mode, gguf, saved)
        self.mode = mode

    @property
    def projections(self) -> list[Projection]:
        """Every fused projection, the output one last."""
        return projections(self.layers, self.head)

    def rope_table(self, length: int) -> None:
        """Compute cos/sin for positions 0..length-1 once (the model's own rotary module).

        The table covers the model's context (up to 32k positions, 16 MiB in bf16) from
        the start, so it never changes under a compiled step.
        """
        if self._cos.shape[0] >= length:
            return
        length = max(length, min(self.max_positions, 32768))
        positions = torch.arange(length, device=self.device)[None]
        probe = self.embed[:1]
        cos, sin = self.inner.rotary_emb(probe, positions)  # [1, C, D] each
        half = self.head_dim // 2
        self._cos = cos[0].contiguous()
        # rotate_half(x) · sin == roll(x, D/2) · (sin with its first half negated)
        self._sin = torch.cat([-sin[0, :, :half], sin[0, :, half:]], dim=-1).contiguous()

    def forward(
        self,
        cache: Sequence[torch.Tensor],
        tokens: torch.Tensor,
        positions: torch.Tensor,
        pick: torch.Tensor,
        lo: int,
        kv_len: int,
        exact: bool = False,
        adapters: bool = True,
    ) -> torch.Tensor:
        """Feed `tokens` [B, T] of cache rows lo..lo+B-1 and return logits [B, K, V].

        `cache` is `SlotCache.tensors` (each layer's keys, then each layer's values);
        `positions` [B, T] are absolute positions (keys and values are written there);
        `pick` [K] selects which of the T positions get logits; `kv_len` bounds the cache
        positions attention reads (at least every position plus one). `exact` says that a
        lone row's lone token is at position kv_len - 1, so it needs no mask. Without
        `adapters`, no LoRA update is added (what a compiled step is built for).
        """
        batch, steps = tokens.shape
        layers = len(self.layers)
        assert positions.shape == (batch, steps), (positions.shape, tokens.shape)
        assert len(cache) == 2 * layers and lo + batch <= cache[0].shape[0]
        assert kv_len <= cache[0].shape[2] <= self._cos.shape[0], "call rope_table(capacity)"
        hidden = F.embedding(tokens, self.embed)  # [B, T, E]
        cos = self._cos[positions][:, :, None]  # [B, T, 1, D]
        sin = self._sin[positions][:, :, None]
        rows = torch.arange(lo, lo + batch, device=tokens.device)[:, None]  # [B, 1]
        lone = exact and batch == 1 and steps == 1
        mask = None if lone else _mask(positions, kv_len)
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        lora = self.adapters.rows if adapters and self.adapters is not None else None
        mode = self.mode
        for index, layer in enumerate(self.layers):
            normed = F.rms_norm(hidden, (self.hidden,), layer.input_norm, self.eps)
            qkv = _project(layer.qkv, normed.view(batch * steps, -1), mode, self.adapters, lora)
            qk = qkv[:, : (heads + kv_heads) * dim].view(batch, steps, heads + kv_heads, dim)
            qk = qk * cos + qk.roll(dim // 2, -1) * sin  # RoPE on queries and keys at once
            v = qkv[:, (heads + kv_heads) * dim :].view(batch, steps, kv_heads, dim)
            keys, values = cache[index], cache[layers + index]  # [S, H, C, D] each
            keys[rows, :, positions] = qk[:, :, heads:]  # index_put_ in place: [B, T, H, D]
            values[rows, :, positions] = v
            out = _attend(
                qk[:, :, :heads], keys[lo : lo + batch, :, :kv_len],
                values[lo : lo + batch, :, :kv_len], mask,
            )  # [B, T, Q·D]
            hidden = hidden + _project(layer.o, out.view(batch * steps, -1), mode, self.adapters,
                                       lora).view(batch, steps, -1)
            normed = F.rms_norm(hidden, (self.hidden,), layer.post_norm, self.eps)
            gate_up = _project(layer.gate_up, normed.view(batch * steps, -1), mode, self.adapters,
                               lora)
            gate, up = gate_up.chunk(2, dim=-1)
            down = _project(layer.down, F.silu(gate) * up, mode, self.adapters, lora)
            hidden = hidden + down.view(batch, steps, -1)
        kept = hidden.index_select(1, pick)  # [B, K, E]
        kept = F.rms_norm(kept, (self.hidden,), self.final_norm, self.eps)
        logits = self.head(kept.view(-1, self.hidden), mode).float()
        return logits.view(batch, -1, self.vocab_size)  # [B, K, V]


def _mask(positions: torch.Tensor, kv_len: int) -> torch.Tensor:
    """Which cache positions each query sees, [B, 1, T, C']."""
    visible = torch.arange(kv_len, device=positions.device)
    return (visible[None, None, :] <= positions[:, :, None])[:, None]


def _attend(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Grouped-query attention of q [B, T, Q, D] over keys/values [B, H, C', D] → [B, T, Q·D]."""
    batch, steps, heads, dim = q.shape
    kv_heads = keys.shape[1]
    group = heads // kv_heads
    if steps > GROUPED_UP_TO:
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), keys, values, attn_mask=mask, enable_gqa=True
        )  # [B, Q, T, D]
        return out.transpose(1, 2).reshape(batch, steps, heads * dim)
    # Query head i reads KV head i // G: [B, T, H·G, D] → [B, H, G·T, D], one "sequence"
    # of G·T queries per KV head.
    grouped = q.view(batch, steps, kv_heads, group, dim).permute(0, 2, 3, 1, 4)
    grouped = grouped.reshape(batch, kv_heads, group * steps, dim)
    if mask is not None:  # [B, 1, T, C'] → [B, 1, G·T, C']
        mask = mask.expand(batch, group, steps, mask.shape[-1]).reshape(batch, 1, group * steps, -1)
    out = F.scaled_dot_product_attention(grouped, keys, values, attn_mask=mask)
    out = out.view(batch, kv_heads, group, steps, dim).permute(0, 3, 1, 2, 4)
    return out.reshape(batch, steps, heads * dim)


def _project(
    projection: Projection,
    x: torch.Tensor,
    mode: str,
    bank: AdapterBank | None,
    rows: Any,
) -> torch.Tensor:
    """A projection of x [B·T, K], plus the LoRA updates of the rows that use adapters."""
    y = projection(x, mode)
    if not rows or bank is None:
        return y
    return bank.add_updates(projection.names, projection.columns, x, y)

