"""The decoder's forward pass over a `SlotCache`: any block of slots, any positions per row.

transformers' own forward keeps one position counter for a whole batch and grows its cache
by concatenation, which rules out sequences at different lengths sharing a decode step and
rules out CUDA graphs. This module runs the same layers of a loaded Qwen2 (or Llama-shaped)
model, calling its own submodules (projections, norms, MLP, rotary embedding, so LoRA
wrappers keep working), with attention written against the slot cache:

* rows ``lo .. lo+B-1`` of the cache are the batch; row b feeds T tokens at absolute
  positions ``positions[b]`` and writes their keys and values there;
* a query at position p sees exactly the cache positions 0..p of its own row. Whatever a
  row holds beyond its length (a rejected speculation, prefill padding) is never read,
  because it is overwritten before a query can reach it.

Shapes: B rows, T tokens per row, K kept positions, C cache positions, H KV heads,
Q query heads, D head size, E hidden size, V vocabulary.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from codegen.kv import KvShape

SUPPORTED_TYPES = ("qwen2", "llama")
"""Model types whose decoder layers this forward reproduces exactly."""


class UnsupportedModel(ValueError):
    """The model's architecture is not one this forward implements."""


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of x [B, heads, T, D] with cos/sin [B, T, D]."""
    return x * cos[:, None] + _rotate_half(x) * sin[:, None]


class SlotModel:
    """A causal LM's layers, driven over a slot cache."""

    def __init__(self, model: torch.nn.Module) -> None:
        """Check the architecture and take references to the model's modules."""
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
        self.lm_head: Any = model.lm_head
        self.heads = int(config.num_attention_heads)
        self.kv_heads = int(config.num_key_value_heads)
        self.head_dim = int(
            getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        )
        self.vocab_size = int(config.vocab_size)
        weight = next(model.parameters())
        self.kv_shape = KvShape(
            len(inner.layers), self.kv_heads, self.head_dim, weight.dtype, weight.device
        )

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return self.kv_shape.device

    def forward(
        self,
        cache: torch.Tensor,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        pick: torch.Tensor,
        lo: int,
        kv_len: int,
    ) -> torch.Tensor:
        """Feed `tokens` [B, T] of cache rows lo..lo+B-1 and return logits [B, K, V].

        `positions` [B, T] are absolute positions (keys and values are written there);
        `pick` [K] selects which of the T positions get logits; `kv_len` bounds the cache
        positions attention reads (at least every position plus one).
        """
        batch, steps = tokens.shape
        assert positions.shape == (batch, steps), (positions.shape, tokens.shape)
        assert cache.dim() == 6 and lo + batch <= cache.shape[2] and kv_len <= cache.shape[4]
        hidden = self.inner.embed_tokens(tokens)  # [B, T, E]
        cos, sin = self.inner.rotary_emb(hidden, positions)  # [B, T, D] each
        visible = torch.arange(kv_len, device=tokens.device)  # [C']
        mask = (visible[None, None, :] <= positions[:, :, None])[:, None]  # [B, 1, T, C']
        write = positions[:, None, :, None].expand(batch, self.kv_heads, steps, self.head_dim)
        for index, layer in enumerate(self.inner.layers):
            attn = layer.self_attn
            normed = layer.input_layernorm(hidden)
            q = attn.q_proj(normed).view(batch, steps, self.heads, self.head_dim).transpose(1, 2)
            k = attn.k_proj(normed).view(batch, steps, self.kv_heads, self.head_dim)
            v = attn.v_proj(normed).view(batch, steps, self.kv_heads, self.head_dim)
            q = _rope(q, cos, sin)  # [B, Q, T, D]
            k = _rope(k.transpose(1, 2), cos, sin)  # [B, H, T, D]
            keys = cache[index, 0, lo : lo + batch]  # [B, H, C, D], a view
            values = cache[index, 1, lo : lo + batch]
            keys.scatter_(2, write, k)
            values.scatter_(2, write, v.transpose(1, 2))
            out = F.scaled_dot_product_attention(
                q, keys[:, :, :kv_len], values[:, :, :kv_len], attn_mask=mask, enable_gqa=True
            )  # [B, Q, T, D]
            out = out.transpose(1, 2).reshape(batch, steps, self.heads * self.head_dim)
            hidden = hidden + attn.o_proj(out)
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        kept = self.inner.norm(hidden.index_select(1, pick))  # [B, K, E]
        logits: torch.Tensor = self.lm_head(kept).float()  # [B, K, V]
        return logits
