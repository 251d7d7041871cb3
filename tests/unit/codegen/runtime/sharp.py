"""A tiny random Qwen2 whose greedy output depends on what attention does.

With the usual small random initialisation the residual stream is dominated by the token
embedding and greedy decoding repeats the prompt's last token whatever attention computes:
zeroing every `o_proj` left all outputs unchanged. Scaling the query/key projections up
(sharp attention patterns, so positions matter) and the value/output projections up
(attention dominates the residual stream) makes every forward-pass bug below change the
greedy tokens (`test_forward.py` checks that it does).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

TINY = Qwen2Config(
    vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
    tie_word_embeddings=False,
)
QK_SCALE = 8.0
VO_SCALE = 4.0
PROMPTS = [
    list(range(10, 40)),
    list(range(100, 105)),
    [7, 8, 9, 7, 8, 9, 7, 8, 9, 1, 2, 3, 4],
    [300, 5, 77, 300, 6, 78, 300],
]


def sharp_model(seed: int) -> torch.nn.Module:
    """The tiny Qwen2 with random weights from `seed`, attention scaled up (fp32, eval)."""
    torch.manual_seed(seed)
    model: Any = Qwen2ForCausalLM(TINY)
    model.eval()
    with torch.no_grad():
        for layer in model.model.layers:
            attention = layer.self_attn
            for projection, scale in ((attention.q_proj, QK_SCALE), (attention.k_proj, QK_SCALE),
                                      (attention.v_proj, VO_SCALE), (attention.o_proj, VO_SCALE)):
                projection.weight.mul_(scale)
    module: torch.nn.Module = model
    return module


def decode(ids: list[int]) -> str:
    """Token ids as text, one number per token (the tiny model has no tokenizer)."""
    return " ".join(map(str, ids))
