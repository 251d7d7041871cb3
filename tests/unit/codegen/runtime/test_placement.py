"""Choosing the precision a model is loaded in, its decoding weights and where they are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codegen.runtime import placement
from codegen.runtime.model import ModelError, parse_spec
from codegen.runtime.placement import gguf_source, pick_dtype, quantized_file, resolve_quantize

REAL = parse_spec("pypi:qwen2.5-coder-0.5b-instruct")


@pytest.mark.parametrize(
    ("requested", "device", "native_bf16", "expected"),
    [
        # A CPU without bf16 instructions computes the prompt 5x faster in fp32.
        ("auto", "cpu", False, torch.float32),
        # A CPU with AVX512-BF16 or AMX keeps bf16.
        ("auto", "cpu", True, torch.bfloat16),
        # An explicit choice wins.
        ("float16", "cpu", False, torch.float16),
        ("bfloat16", "cpu", False, torch.bfloat16),
    ],
)
def test_pick_dtype(
    monkeypatch: pytest.MonkeyPatch,
    requested: str,
    device: str,
    native_bf16: bool,
    expected: torch.dtype,
) -> None:
    monkeypatch.setattr(placement, "_cpu_has_native_bf16", lambda: native_bf16)
    assert pick_dtype(requested, device, REAL) == expected


def test_random_models_stay_in_fp32() -> None:
    assert pick_dtype("auto", "cpu", parse_spec("random:tiny")) == torch.float32


def test_unknown_dtype_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="unknown dtype 'int3'"):
        pick_dtype("int3", "cpu", REAL)


def test_auto_quantizes_to_int4_on_a_cpu_only() -> None:
    assert resolve_quantize("auto", gpu=False) == "int4"
    assert resolve_quantize("auto", gpu=True) == "off"
    assert resolve_quantize("int8", gpu=True) == "int8"


class _Config:
    def __init__(self, where: Path) -> None:
        self._name_or_path = str(where)
        self._commit_hash = ""


class _Model:
    def __init__(self, where: Path) -> None:
        self.config = _Config(where)


def test_the_saved_weights_file_changes_with_whatever_changes_the_weights(
    tmp_path: Path,
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    weights = model_dir / "model.safetensors"
    weights.write_bytes(b"one")
    spec, model = parse_spec(str(model_dir)), _Model(model_dir)
    first = quantized_file(spec, model, "int4", "cpu", None, tmp_path)
    assert first == quantized_file(spec, model, "int4", "cpu", None, tmp_path)
    assert first.parent == tmp_path / "quantized" and first.suffix == ".safetensors"
    others = {
        quantized_file(spec, model, "int8", "cpu", None, tmp_path),
        quantized_file(spec, model, "int4", "cuda:0", None, tmp_path),
    }
    weights.write_bytes(b"retrained")
    others.add(quantized_file(spec, model, "int4", "cpu", None, tmp_path))
    assert first not in others and len(others) == 3


def test_gguf_source_is_the_file_a_model_came_from(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert gguf_source(parse_spec(str(gguf))) == gguf
    assert gguf_source(parse_spec("random:tiny")) is None
    packaged = gguf_source(REAL, tmp_path)  # not downloaded into this cache
    assert packaged is None
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").write_bytes(b"GGUF")
    assert gguf_source(REAL, tmp_path) == tmp_path / "gguf" / (
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
