from __future__ import annotations

import pytest

from codegen.postprocess.base import FilterContext
from codegen.postprocess.suffix_overlap import trim_suffix_overlap
from codegen.types import Candidate


def apply(marked: str, raw: str) -> str | None:
    offset = marked.index("║")
    ctx = FilterContext(marked.replace("║", ""), offset, single_line=False)
    result = trim_suffix_overlap(Candidate(raw, raw, offset), ctx)
    return None if result is None else result.insert


@pytest.mark.parametrize(
    ("marked", "raw", "expected"),
    [
        # The closing parenthesis after the cursor is not written twice.
        ("print(║)\n", "x)", "x"),
        # A call that closes its own brackets keeps them.
        ("print(║)\n", "f(x)", "f(x)"),
        # Code after the cursor repeated at the end of the line is dropped.
        ("f(║, b)\n", "a, b)", "a"),
        # A colon at the end of the cursor line is not written twice.
        ("if x > ║:\n    pass\n", "0:", "0"),
        # A closing quote is not written twice.
        ('s = "a║"\n', 'bc"', "bc"),
        # Whitespace before the repeated text belongs to the suffix.
        ("x = ║ + 1\n", "a + 1", "a"),
        # Text that does not end like the suffix is kept.
        ("print(║)\n", "x", "x"),
        # Repeated lines after the cursor are cut.
        (
            "def f():\n    ║\n    y = 2\n    return y\n",
            "x = 1\n    y = 2\n    return y",
            "x = 1",
        ),
        # One repeated last line must match exactly (an extra closing line).
        ("d = {\n    ║\n}\n", '"a": 1,\n}', '"a": 1,'),
        # The same text at another indentation is not an extra closing line.
        (
            "def f(xs):\n    ║\n    return x\n",
            "for x in xs:\n        return x",
            "for x in xs:\n        return x",
        ),
        # A match that stops matching is kept.
        (
            "def f():\n    ║\n    y = 2\n    return y\n",
            "x = 1\n    y = 2\n    print(y)",
            "x = 1\n    y = 2\n    print(y)",
        ),
        # A repeat cut off mid-line by the token limit is still a repeat.
        (
            "def f(n):\n    ║\n    if n:\n        return n\n",
            "x = 1\n    if n:\n        retu",
            "x = 1",
        ),
        # Repeating every following line and going on is cut where the repeat starts.
        (
            "def f():\n    ║\n    y = 2\n    return y\n",
            "x = 1\n    y = 2\n    return y\n\nprint(f())",
            "x = 1",
        ),
        # A completion that only repeats the next line is dropped.
        ("def f():\n    ║\n    return 1\n", "return 1", None),
        # Without lines after the cursor there is nothing to repeat.
        ("def f():\n    ║", "return 1\n", "return 1\n"),
    ],
)
def test_trim_suffix_overlap(marked: str, raw: str, expected: str | None) -> None:
    assert apply(marked, raw) == expected
