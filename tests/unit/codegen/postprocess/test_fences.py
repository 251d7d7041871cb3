from __future__ import annotations

import pytest

from codegen.postprocess.base import FilterContext
from codegen.postprocess.fences import strip_markdown
from codegen.types import Candidate


def apply(marked: str, raw: str) -> str | None:
    offset = marked.index("║")
    ctx = FilterContext(marked.replace("║", ""), offset, single_line=False)
    result = strip_markdown(Candidate(raw, raw, offset), ctx)
    return None if result is None else result.insert


BODY = "def f(a, b):\n    ║\n"


@pytest.mark.parametrize(
    ("marked", "raw", "expected"),
    [
        # Plain FIM output passes through unchanged.
        (BODY, "return a + b", "return a + b"),
        # A python fence is unwrapped.
        (BODY, "```python\nreturn a + b\n```", "return a + b"),
        # A fence with no language tag is unwrapped.
        (BODY, "```\nreturn a + b\n```", "return a + b"),
        # An unclosed fence keeps everything after it.
        (BODY, "```py\nreturn a + b", "return a + b"),
        # Prose before and after a fence is dropped.
        (BODY, "Here is the code:\n```python\nreturn a + b\n```\nDone.", "return a + b"),
        # Prose after unfenced code is dropped.
        (BODY, "return a + b\n\nThis function returns the sum.", "return a + b"),
        # Prose before unfenced code is dropped.
        (BODY, "Sure, here is the body:\nreturn a + b", "return a + b"),
        # A closing fence after code (and prose after it) is dropped.
        (BODY, "return a + b\n```\nExplanation: adds.", "return a + b"),
        # Inline backticks around the whole answer are dropped.
        (BODY, "`return a + b`", "return a + b"),
        # A line starting with a keyword is code.
        (BODY, "if a:\n        return a\n    return b", "if a:\n        return a\n    return b"),
        # A comment is code, even written in English.
        (BODY, "# Add them.\n    return a + b", "# Add them.\n    return a + b"),
        # A capitalised name used as code is code.
        (BODY, "return Point(a, b)", "return Point(a, b)"),
        # An echo of the function header inside a fence is dropped.
        (BODY, "```python\ndef f(a, b):\n    return a + b\n```", "return a + b"),
        # An unfenced echo of a block opener is dropped too.
        (BODY, "def f(a, b):\n    return a + b", "return a + b"),
        # Fenced code written from column 0 is re-based onto the cursor.
        (BODY, "```python\nx = a\nif x:\n    x += b\n```", "x = a\n    if x:\n        x += b"),
        # Fenced code indented like the cursor loses the first line's indentation.
        (BODY, "```python\n    x = a\n    return x\n```", "x = a\n    return x"),
        # Inside a fence, the text typed on the cursor line is not repeated.
        ("def f(a):\n    total = ║\n", "```python\ntotal = a * 2\n```", "a * 2"),
        # Nothing but prose leaves nothing.
        (BODY, "I need more context to complete this.", ""),
        # Inside a docstring, prose is the completion.
        ('def f():\n    """║\n', "Return the answer.", "Return the answer."),
        # Inside a comment, prose is the completion.
        ("x = 1  # ║\n", "The answer is one.", "The answer is one."),
    ],
)
def test_strip_markdown(marked: str, raw: str, expected: str) -> None:
    assert apply(marked, raw) == expected


def test_unchanged_candidate_is_returned_as_is() -> None:
    candidate = Candidate("return a", "return a", 17)
    ctx = FilterContext("def f(a, b):\n    \n", 17, single_line=False)
    assert strip_markdown(candidate, ctx) is candidate
