"""Stopping generation once post-processing has cut a finished line."""

from __future__ import annotations

import threading

import pytest

from codegen.pipeline import settled_by
from codegen.postprocess import DEFAULT_FILTERS
from codegen.postprocess.base import FilterContext
from codegen.runtime.stopping import StopOnEvent, StopWhenSettled, first_reason
from codegen.types import FinishReason

BODY = "def f(x):\n    ║\n    return y\n\n\nprint(f(1))\n"


def settled(marked: str, text: str) -> bool:
    offset = marked.index("║")
    context = FilterContext(marked.replace("║", ""), offset, single_line=False)
    return settled_by(context, DEFAULT_FILTERS)(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # One finished line: nothing cut yet.
        ("y = x + 1\n", False),
        # The second line is still inside the block.
        ("y = x + 1\n    y *= 2\n", False),
        # The second line repeats the line after the cursor: cut, so stop.
        ("y = x + 1\n    return y\n", True),
        # A new top-level statement leaves the function: cut, so stop.
        ("y = x + 1\nprint(y)\n", True),
        # A blank last line decides nothing.
        ("y = x + 1\n\n", False),
        # The unfinished last line is not judged.
        ("y = x + 1\n    y *= 2\nprint(", False),
    ],
)
def test_settled_by(text: str, expected: bool) -> None:
    assert settled(BODY, text) is expected


def test_stop_when_settled_reports_its_reason() -> None:
    check = StopWhenSettled(lambda text: text.endswith("stop\n"))
    assert check([1], "go on\n") is None
    assert check([1], "stop") is None  # no finished line yet
    assert check([1], "now stop\n") is FinishReason.SETTLED


def test_cancellation_comes_first() -> None:
    event = threading.Event()
    event.set()
    checks = (StopOnEvent(event), StopWhenSettled(lambda text: True))
    assert first_reason(checks, [1], "a\nb\n") is FinishReason.CANCELLED
