"""The two value types the runtime shares with the rest of the product.

A raw generation and why it ended; everything else the runtime takes and gives is its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FinishReason(enum.Enum):
    """Why generation of one candidate ended."""

    STOP_TOKEN = "stop_token"
    """The model emitted an end-of-text or FIM control token."""
    LENGTH = "length"
    """`max_new_tokens` was reached."""
    NEWLINE = "newline"
    """Single-line mode and the model finished the line."""
    SETTLED = "settled"
    """Post-processing already cut the last finished line: nothing later could be shown."""
    CANCELLED = "cancelled"
    """The request was cancelled; the text is partial."""
    REPLAY = "replay"
    """Recorded output from a replay model."""


@dataclass(frozen=True)
class Generation:
    """Raw model output for one candidate, before any post-processing."""

    text: str
    logprob: float | None = None
    """Summed log-probability of the generated tokens, when the backend knows it."""
    finish_reason: FinishReason = FinishReason.STOP_TOKEN
    tokens: int = 0
    token_ids: tuple[int, ...] = ()
    """The generated ids (a stop token included), for resuming the sequence later."""
    token_logprobs: tuple[float, ...] = ()
    """Each generated token's log-probability, when the backend keeps them (else empty)."""
    token_ends: tuple[int, ...] = ()
    """Where each generated token's text ends in `text` (a stop token adds nothing)."""
