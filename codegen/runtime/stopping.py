"""Small stateful stop conditions; each reports the `FinishReason` that ends a sequence."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

from codegen.runtime.types import FinishReason

StopCheck = Callable[[list[int], str], FinishReason | None]
"""Given a sequence's generated ids and decoded text, return why it must stop, or None."""


@dataclass(frozen=True)
class StopOnIds:
    """Stop when the last generated id is a control token (end of text, FIM markers)."""

    ids: Collection[int]

    def __call__(self, generated: list[int], text: str) -> FinishReason | None:
        """Check the newest token."""
        return FinishReason.STOP_TOKEN if generated and generated[-1] in self.ids else None


@dataclass(frozen=True)
class StopAtNewline:
    """Stop once a line with content is finished (single-line completions)."""

    def __call__(self, generated: list[int], text: str) -> FinishReason | None:
        """Check whether the text holds a newline after some non-blank text."""
        head, newline, _ = text.partition("\n")
        return FinishReason.NEWLINE if newline and head.strip() else None


@dataclass(frozen=True)
class StopWhenSettled:
    """Stop once post-processing would cut the last finished line (see `Pipeline.settled`).

    Instruct models rarely emit an end token after a fill-in-the-middle answer; they go on
    repeating the text after the cursor or writing example usage. Everything past a line the
    filters cut is cut too, so decoding it only costs time.
    """

    settled: Callable[[str], bool]
    """Given the text so far, tell whether post-processing has cut its last finished line."""

    def __call__(self, generated: list[int], text: str) -> FinishReason | None:
        """Check the finished lines of the text."""
        return FinishReason.SETTLED if "\n" in text and self.settled(text) else None


@dataclass(frozen=True)
class StopOnEvent:
    """Stop when the request is cancelled; polled once per decode step."""

    event: threading.Event

    def __call__(self, generated: list[int], text: str) -> FinishReason | None:
        """Check the cancellation event."""
        return FinishReason.CANCELLED if self.event.is_set() else None


@dataclass(frozen=True)
class SkipTyped:
    """Apply a check to the text after its first `skip` characters (what the user typed).

    A resumed sequence's text starts with characters the user has typed since; checks
    about what would be shown (one line, post-processing) must not see them.
    """

    check: StopCheck
    skip: int

    def __call__(self, generated: list[int], text: str) -> FinishReason | None:
        """Check the rest of the text."""
        return self.check(generated, text[self.skip :])


def first_reason(
    checks: tuple[StopCheck, ...], generated: list[int], text: str
) -> FinishReason | None:
    """Run the checks in order and return the first reason to stop."""
    for check in checks:
        if (reason := check(generated, text)) is not None:
            return reason
    return None
