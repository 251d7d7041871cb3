"""The slot forward against transformers' own, on a tiny model whose attention matters.

Each forward-pass bug listed in `MUTATIONS` is introduced on purpose and must change the
greedy tokens of at least one prompt: a test model blind to attention would let such bugs
through every greedy-equality test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

import codegen.runtime.decoder
import codegen.runtime.forward
from codegen.runtime.engine import Engine
from codegen.runtime.forward import SlotModel
from codegen.runtime.generate import SamplingParams, generate
from codegen.runtime.kv import SlotCache
from tests.unit.codegen.runtime.sharp import PROMPTS, decode, sharp_model

GREEDY = SamplingParams(n=1, max_new_tokens=16)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return sharp_model(0)


def reference(model: torch.nn.Module) -> list[str]:
    """transformers' forward and cache, each prompt alone."""
    return [generate(model, p, GREEDY, decode, ())[0].text for p in PROMPTS]


def engine_texts(model: torch.nn.Module, quantize: str = "off") -> list[str]:
    engine = Engine(model, decode, slots=4, capacity=64, quantize=quantize)
    try:
        tickets = [engine.submit(p, GREEDY, (), cancel=threading.Event()) for p in PROMPTS]
        return [t.result(timeout=60)[0].text for t in tickets]
    finally:
        engine.close()


def test_logits_match_transformers_for_a_prompt_and_each_decode_step(
    model: torch.nn.Module,
) -> None:
    forward = SlotModel(model)
    cache = SlotCache(forward.kv_shape, 2, 64)
    forward.rope_table(64)
    ids = PROMPTS[2]
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([ids + [5, 6]])).logits[0]  # [T + 2, V]
        prompt = torch.tensor([ids])
        got = forward.forward(cache.tensors, prompt, torch.arange(len(ids))[None],
                              torch.arange(len(ids)), 1, len(ids))[0]
        assert torch.allclose(got, expected[: len(ids)], atol=1e-4)
        for step, token in enumerate((5, 6)):
            at = len(ids) + step
            logits = forward.forward(cache.tensors, torch.tensor([[token]]),
                                     torch.tensor([[at]]), torch.tensor([0]), 1, at + 1,
                                     exact=True)
            assert torch.allclose(logits[0, 0], expected[at], atol=1e-4)


def test_engine_gives_transformers_greedy_tokens(model: torch.nn.Module) -> None:
    assert engine_texts(model) == reference(model)


def _no_rope(monkeypatch: pytest.MonkeyPatch) -> None:
    original = SlotModel.rope_table

    def flat(self: SlotModel, length: int) -> None:
        original(self, length)
        self._cos = torch.ones_like(self._cos)
        self._sin = torch.zeros_like(self._sin)

    monkeypatch.setattr(SlotModel, "rope_table", flat)


def _leaking_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    def leak(positions: torch.Tensor, kv_len: int) -> torch.Tensor:
        visible = torch.arange(kv_len, device=positions.device)
        return (visible[None, None, :] <= positions[:, :, None] + 1)[:, None]

    monkeypatch.setattr(codegen.runtime.forward, "_mask", leak)


def _wrong_head_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    original = codegen.runtime.forward._attend

    def interleaved(q: torch.Tensor, *rest: Any) -> torch.Tensor:
        batch, steps, heads, dim = q.shape  # query head i read KV head i % H instead of i // G
        q = q.view(batch, steps, 2, heads // 2, dim).transpose(2, 3).reshape(q.shape)
        return original(q, *rest)

    monkeypatch.setattr(codegen.runtime.forward, "_attend", interleaved)


def _wrong_decode_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    original = codegen.runtime.decoder.Decoder.decode

    def shifted(self: Any, feeds: Any, adapters: Any) -> torch.Tensor:
        return original(self, [(slot, token, at + 1) for slot, token, at in feeds], adapters)

    monkeypatch.setattr(codegen.runtime.decoder.Decoder, "decode", shifted)


def _no_attention_output(monkeypatch: pytest.MonkeyPatch) -> None:
    original = codegen.runtime.forward._attend
    monkeypatch.setattr(codegen.runtime.forward, "_attend",
                        lambda *args: torch.zeros_like(original(*args)))


MUTATIONS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "no rotary embedding": _no_rope,
    "a mask that sees one position ahead": _leaking_mask,
    "query heads mapped to the wrong KV heads": _wrong_head_groups,
    "decode steps at the wrong positions": _wrong_decode_positions,
    "attention output dropped": _no_attention_output,
}


@pytest.fixture
def expected(model: torch.nn.Module) -> Iterator[list[str]]:
    yield reference(model)


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_forward_bug_changes_the_greedy_tokens(
    model: torch.nn.Module, expected: list[str], mutation: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    MUTATIONS[mutation](monkeypatch)
    broken = engine_texts(model)
    assert sum(a != b for a, b in zip(broken, expected, strict=True)) >= len(PROMPTS) // 2
