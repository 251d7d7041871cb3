"""Generation as named stages: prefill, decode_step, sample, generate.

Shapes are written as comments: B candidates, T prompt tokens, V vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from codegen.runtime.stopping import StopCheck, first_reason
from codegen.runtime.types import FinishReason, Generation

OnText = Callable[[int, str], None]
"""Streaming callback: candidate index and its text so far."""


@dataclass(frozen=True)
class SamplingParams:
    """How candidates are drawn."""

    n: int = 1
    max_new_tokens: int = 64
    temperature: float = 0.0
    """0 makes candidate 0 greedy; the others use `sample_temperature`."""
    sample_temperature: float = 0.8
    top_p: float = 0.95
    seed: int = 0

    def temperatures(self) -> list[float]:
        """Each alternative's temperature: the first one greedy when `temperature` is 0."""
        if self.temperature != 0:
            return [self.temperature] * self.n
        return [0.0] + [self.sample_temperature] * (self.n - 1)

    def check(self) -> None:
        """Raise `ValueError` naming the first field no generation can use (NaN, 0 tokens…)."""
        for name in ("n", "max_new_tokens"):
            count = getattr(self, name)
            if not isinstance(count, int) or count < 1:
                raise ValueError(f"{name} must be a whole number >= 1, not {count!r}")
        for name in ("temperature", "sample_temperature"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        top_p = self.top_p
        if not isinstance(top_p, int | float) or not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {top_p!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be a whole number, not {self.seed!r}")


def prefill(model: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, object]:
    """Run the prompt through the model; return last-position logits [1, V] and the KV cache."""
    assert ids.dim() == 2 and ids.shape[0] == 1  # [1, T]
    # Only the last position's logits are needed: projecting all T positions onto the
    # vocabulary costs more than the rest of a short prefill on a CPU.
    out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    logits: torch.Tensor = out.logits[:, -1, :].float()  # [1, V]
    return logits, out.past_key_values


def decode_step(model: torch.nn.Module, tokens: torch.Tensor, cache: object) -> torch.Tensor:
    """Feed one token per sequence [B] and return next-token logits [B, V]."""
    out = model(input_ids=tokens[:, None], past_key_values=cache, use_cache=True)
    logits: torch.Tensor = out.logits[:, -1, :].float()  # [B, V]
    return logits


def sample(
    logits: torch.Tensor, temperatures: torch.Tensor, top_p: float, generator: torch.Generator
) -> torch.Tensor:
    """Pick one token per row of logits [B, V]; rows with temperature 0 are greedy."""
    greedy = logits.argmax(dim=-1)  # [B]
    if bool((temperatures == 0).all()):
        return greedy
    scaled = logits / temperatures.clamp(min=1e-5)[:, None]
    probs = torch.softmax(scaled, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    keep = sorted_probs.cumsum(dim=-1) - sorted_probs < top_p
    sorted_probs = sorted_probs * keep
    choice = torch.multinomial(sorted_probs, 1, generator=generator)[:, 0]
    sampled = order.gather(-1, choice[:, None])[:, 0]
    return torch.where(temperatures == 0, greedy, sampled)


@torch.inference_mode()
def generate(
    model: torch.nn.Module,
    prompt_ids: Sequence[int],
    params: SamplingParams,
    decode: Callable[[list[int]], str],
    checks: tuple[StopCheck, ...],
    on_text: OnText | None = None,
) -> list[Generation]:
    """Sample `params.n` continuations of one prompt, sharing its prefill."""
    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)  # [1, T]
    logits, cache = prefill(model, ids)
    n = params.n
    if n > 1:
        cache.batch_repeat_interleave(n)  # type: ignore[attr-defined]
        logits = logits.expand(n, -1)  # [B, V]
    temps = torch.tensor(params.temperatures(), device=device)  # [B]
    generator = torch.Generator(device=device).manual_seed(params.seed)

    generated: list[list[int]] = [[] for _ in range(n)]
    texts = [""] * n
    logprobs = [0.0] * n
    reasons: list[FinishReason | None] = [None] * n
    for _ in range(params.max_new_tokens):
        tokens = sample(logits, temps, params.top_p, generator)  # [B]
        step_logprobs = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None])[:, 0]
        step = zip(tokens.tolist(), step_logprobs.tolist(), strict=True)
        for i, (token, logprob) in enumerate(step):
            if reasons[i] is not None:
                continue
            generated[i].append(token)
            logprobs[i] += logprob
            text = decode(generated[i])
            reasons[i] = first_reason(checks, generated[i], text)
            if reasons[i] != FinishReason.STOP_TOKEN:
                texts[i] = text
                if on_text is not None:
                    on_text(i, text)
        if all(reason is not None for reason in reasons):
            break
        logits = decode_step(model, tokens, cache)
    return [
        Generation(texts[i], logprobs[i], reasons[i] or FinishReason.LENGTH, len(generated[i]))
        for i in range(n)
    ]
