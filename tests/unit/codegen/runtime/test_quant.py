"""int4/int8 weights: torch's kernels compute with the weights the codes stand for; GGUF
4-bit blocks are read exactly as gguf itself dequantizes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize

from codegen.runtime.forward import SlotModel
from codegen.runtime.gguf_weights import hf_name, int4_blocks
from codegen.runtime.kv import SlotCache
from codegen.runtime.quant import Int4Weight, Int8Weight, int4_groups
from codegen.runtime.weights import QUANTIZED_UP_TO_ROWS
from tests.unit.codegen.runtime.sharp import PROMPTS, sharp_model

CPU = torch.device("cpu")


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return float((got - expected).norm() / expected.norm())


def test_int4_rounding_keeps_each_weight_within_half_a_step() -> None:
    weight = torch.randn(64, 128)
    groups = int4_groups(weight, 32)
    step = groups.scales.repeat_interleave(32, dim=1)
    assert int(groups.codes.max()) <= 15
    assert bool(((groups.dequantize() - weight).abs() <= step / 2 + 1e-6).all())


def test_int4_kernel_multiplies_by_the_weights_its_codes_stand_for() -> None:
    groups = int4_groups(torch.randn(96, 128), 32)
    x = torch.randn(5, 128).to(torch.bfloat16)
    got = Int4Weight.pack(groups, CPU).matmul(x).float()
    assert relative_error(got, x.float() @ groups.dequantize().T) < 0.01  # bf16 products


def test_int8_kernel_multiplies_by_its_rounded_weights() -> None:
    weight = torch.randn(96, 128)
    x = torch.randn(3, 128).to(torch.bfloat16)
    got = Int8Weight.round(weight, CPU).matmul(x).float()
    assert relative_error(got, x.float() @ weight.T) < 0.02


def _q4_k_blocks(rows: int, seed: int) -> np.ndarray:
    """Random Q4_K rows of 256 weights: finite fp16 d and dmin, random scales and codes."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(rows, 144), dtype=np.uint8)
    halves = rng.uniform(0.001, 0.05, size=(rows, 2)).astype(np.float16)
    blocks[:, 0:4] = halves.view(np.uint8).reshape(rows, 4)
    return blocks


@pytest.mark.parametrize("kind", ["Q4_0", "Q4_1", "Q4_K"])
def test_gguf_4_bit_blocks_are_read_exactly(kind: str) -> None:
    qtype = GGMLQuantizationType[kind]
    if kind == "Q4_K":
        raw = _q4_k_blocks(8, seed=1)  # 8 rows of 256 weights (gguf cannot quantize Q4_K)
        n, k = 8, 256
    else:
        weights = np.random.default_rng(2).standard_normal((8, 256)).astype(np.float32)
        raw = quantize(weights, qtype)
        n, k = weights.shape
    expected = torch.from_numpy(dequantize(raw, qtype).astype(np.float32)).view(n, k)
    groups = int4_blocks(kind, raw, (n, k))
    assert torch.equal(groups.dequantize(), expected)


def test_gguf_names_map_to_transformers_modules() -> None:
    assert hf_name("blk.3.attn_q.weight") == "model.layers.3.self_attn.q_proj"
    assert hf_name("blk.0.ffn_down.weight") == "model.layers.0.mlp.down_proj"
    assert hf_name("output.weight") == "lm_head"
    assert hf_name("blk.0.attn_norm.weight") is None
    assert hf_name("token_embd.weight") is None


def _rounded_to_int4(model: torch.nn.Module) -> torch.nn.Module:
    """The model with each projection's weight replaced by what its int4 codes stand for."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):  # every projection and lm_head
                module.weight.copy_(int4_groups(module.weight, 32).dequantize())
    return model


def test_a_quantized_decode_step_computes_with_the_rounded_weights() -> None:
    # A step of few rows (decoding, a prompt of <= 16 tokens) uses the int4 copy: the
    # dense model's weights rounded to int4, multiplied in bf16.
    reference, quantized = SlotModel(_rounded_to_int4(sharp_model(0))), SlotModel(sharp_model(0))
    quantized.quantize("int4")
    ids = PROMPTS[2]
    assert len(ids) <= QUANTIZED_UP_TO_ROWS
    out = []
    for forward in (reference, quantized):
        cache = SlotCache(forward.kv_shape, 1, 64)
        forward.rope_table(64)
        with torch.no_grad():
            forward.forward(cache.tensors, torch.tensor([ids]), torch.arange(len(ids))[None],
                            torch.tensor([len(ids) - 1]), 0, len(ids))
            at = len(ids)
            out.append(forward.forward(cache.tensors, torch.tensor([[7]]), torch.tensor([[at]]),
                                       torch.tensor([0]), 0, at + 1, exact=True)[0, 0])
    assert quantized.quantization.startswith("int4")
    error = (out[0] - out[1]).norm() / out[0].norm()
    assert float(error) < 0.02


@pytest.mark.parametrize("mode", ["int4", "int8"])
def test_quantized_weights_are_saved_and_read_back(mode: str, tmp_path: Path) -> None:
    saved = tmp_path / "weights.safetensors"
    first, second = SlotModel(sharp_model(0)), SlotModel(sharp_model(0))
    first.quantize(mode, saved=saved)
    assert saved.is_file() and "saved" not in first.quantization
    second.quantize(mode, saved=saved)
    assert second.quantization.endswith("(saved)")
    for a, b in zip(first.projections, second.projections, strict=True):
        x = torch.randn(2, a.shape[1])
        assert torch.equal(a(x, mode), b(x, mode))


def test_a_damaged_saved_file_is_made_again(tmp_path: Path) -> None:
    saved = tmp_path / "weights.safetensors"
    saved.write_bytes(b"not a safetensors file")
    forward = SlotModel(sharp_model(0))
    forward.quantize("int4", saved=saved)
    assert "saved" not in forward.quantization
    again = SlotModel(sharp_model(0))
    again.quantize("int4", saved=saved)
    assert again.quantization.endswith("(saved)")
