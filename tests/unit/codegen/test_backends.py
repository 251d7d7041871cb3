"""Choosing the precision a model is loaded in."""

from __future__ import annotations

import pytest
import torch

from codegen import backends
from codegen.backends import pick_dtype
from codegen.model import ModelError, parse_spec

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
    monkeypatch.setattr(backends, "_cpu_has_native_bf16", lambda: native_bf16)
    assert pick_dtype(requested, device, REAL) == expected


def test_random_models_stay_in_fp32() -> None:
    assert pick_dtype("auto", "cpu", parse_spec("random:tiny")) == torch.float32


def test_unknown_dtype_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="unknown dtype 'int3'"):
        pick_dtype("int3", "cpu", REAL)
