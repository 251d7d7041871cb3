"""Projection weights read straight from a GGUF file, 4-bit blocks kept as they are.

A GGUF's Q4_0, Q4_1 and Q4_K blocks are groups of 32 weights with one scale and one
offset each, which is exactly an int4 group of `codegen.runtime.quant`: taking their codes as they
are avoids rounding the weights a second time (dequantizing to bf16, then re-quantizing).
Tensors stored in other block types (Q5_0, Q6_K, Q8_0, ... in a "Q4_K_M" file) come back
as float weights for the caller to quantize; `gguf.quants` dequantizes them.

Block layouts (ggml's `ggml-common.h`): Q4_0 = fp16 d, 16 bytes of codes, w = (q - 8)·d;
Q4_1 = fp16 d, fp16 m, 16 bytes, w = q·d + m (within a block, weight j is the low nibble
of byte j and weight j + 16 its high nibble); Q4_K = 256 weights: fp16 d, fp16 dmin,
12 bytes packing eight 6-bit scales and mins, 128 bytes of codes, w = d·sc·q − dmin·m,
where each 64 weights take the low nibbles (first 32) then the high nibbles of 32 bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codegen.runtime.quant import Int4Groups

HF_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
"""GGUF's names of a block's projections → transformers' (llama.cpp's qwen2/llama naming)."""


def hf_name(gguf_name: str) -> str | None:
    """The transformers name of a GGUF projection weight; None for other tensors.

    ``blk.3.attn_q.weight`` → ``model.layers.3.self_attn.q_proj``; ``output.weight`` →
    ``lm_head``.
    """
    if gguf_name == "output.weight":
        return "lm_head"
    parts = gguf_name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[3] == "weight" and parts[2] in HF_NAMES:
        return f"model.layers.{parts[1]}.{HF_NAMES[parts[2]]}"
    return None


def _f16(raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Little-endian fp16 from a [..., 2] byte array, as float32."""
    return np.ascontiguousarray(raw).view(np.float16)[..., 0].astype(np.float32)


def _nibbles(raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """[..., 16] bytes → [..., 32] codes: the low nibbles, then the high nibbles."""
    return np.concatenate([raw & 0x0F, raw >> 4], axis=-1)


def _q4_0(blocks: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
    d = _f16(blocks[:, 0:2])
    return _nibbles(blocks[:, 2:18]), d, np.zeros_like(d)


def _q4_1(blocks: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
    d, m = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])
    return _nibbles(blocks[:, 4:20]), d, m + 8 * d


def _q4_k(blocks: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
    count = blocks.shape[0]
    d, dmin = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])
    packed = blocks[:, 4:16].astype(np.uint8)  # [B, 12]
    low, high = packed[:, 0:4], packed[:, 4:8]
    tail = packed[:, 8:12]
    # Sub-blocks 0-3: 6 bits each in bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7:
    # the low 4 bits in bytes 8-11 and the top 2 bits in the spare bits of bytes 0-7.
    scales = np.concatenate([low & 63, (tail & 0x0F) | ((low >> 6) << 4)], axis=1)
    mins = np.concatenate([high & 63, (tail >> 4) | ((high >> 6) << 4)], axis=1)
    qs = blocks[:, 16:144].reshape(count, 4, 32)
    codes = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(count, 8, 32)  # [B, 8 sub, 32]
    step = d[:, None] * scales.astype(np.float32)  # [B, 8]
    offset = -dmin[:, None] * mins.astype(np.float32)
    return codes, step, offset + 8 * step


_DECODERS = {"Q4_0": _q4_0, "Q4_1": _q4_1, "Q4_K": _q4_k}
"""Block types that are int4 groups of 32, and how to read their codes, scales and zeros."""


def int4_blocks(kind: str, data: np.ndarray[Any, Any], shape: tuple[int, int]) -> Int4Groups:
    """The int4 groups of an [N, K] weight stored as `kind` blocks (raw bytes [N, bytes])."""
    n, k = shape
    blocks = np.ascontiguousarray(data).reshape(-1, data.size // (n * k // _block_size(kind)))
    codes, scales, zeros = _DECODERS[kind](blocks)
    return Int4Groups(
        torch.from_numpy(np.ascontiguousarray(codes).reshape(n, k).astype(np.uint8)),
        torch.from_numpy(np.ascontiguousarray(scales, dtype=np.float32).reshape(n, k // 32)),
        torch.from_numpy(np.ascontiguousarray(zeros, dtype=np.float32).reshape(n, k // 32)),
        32,
    )


def _block_size(kind: str) -> int:
    return 256 if kind == "Q4_K" else 32


def read_projections(path: Path) -> Iterator[tuple[str, Int4Groups | torch.Tensor]]:
    """Each projection weight of a GGUF: int4 groups where its blocks are 4-bit, else float32.

    Names are transformers' (`hf_name`); shapes are [out_features, in_features].
    """
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(path))
    for tensor in reader.tensors:
        name = hf_name(tensor.name)
        if name is None:
            continue
        k, n = (int(size) for size in tensor.shape)  # GGUF lists the fastest dimension first
        kind = tensor.tensor_type.name
        if kind in _DECODERS:
            yield name, int4_blocks(kind, np.asarray(tensor.data), (n, k))
        else:
            weight = dequantize(np.asarray(tensor.data), tensor.tensor_type)
            yield name, torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32)).view(n, k)
