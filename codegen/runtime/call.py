"""What a backend is asked to do: `GenerateCall`, and the callbacks and resumes it carries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from codegen.runtime.generate import OnText, SamplingParams
from codegen.runtime.sequences import Timing
from prompts.templates import Prompt

Settled = Callable[[str], bool]
"""Tells whether post-processing has cut the last finished line of a candidate's text."""


@dataclass(frozen=True)
class GenerateCall:
    """One request to a backend: the prompt, how to sample, and how to stop and report."""

    prompt: Prompt | None
    params: SamplingParams
    single_line: bool
    cancel: threading.Event
    """Set to stop: the backend returns within one decode step."""
    on_text: OnText | None = None
    """Receives each candidate's text so far, as it grows."""
    settled: Settled | None = None
    """Tells, from a candidate's text so far, that post-processing has already cut its last
    finished line; a backend may stop that candidate there."""
    resume: tuple[Resume, ...] = ()
    """Continue earlier cancelled sequences of the same prompt instead (one generation each;
    backends without a model ignore it)."""
    on_timing: OnTiming | None = None
    """Receives where the model's time went."""
    adapter: str = ""
    """A LoRA adapter folder to generate with ("" = none)."""

    def __post_init__(self) -> None:
        """Refuse sampling parameters no backend can honour (`SamplingParams.check`)."""
        self.params.check()


@dataclass(frozen=True)
class Resume:
    """Continue one earlier, cancelled sequence of the same prompt (type-through)."""

    token_ids: tuple[int, ...]
    """What that sequence had generated."""
    typed: str
    """Text the user typed since; generations are returned without it."""


OnTiming = Callable[[Timing], None]
"""Receives where the model's time went (prefill, first token, reuse)."""
