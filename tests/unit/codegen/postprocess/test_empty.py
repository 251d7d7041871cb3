from __future__ import annotations

import pytest

from codegen.postprocess.base import FilterContext
from codegen.postprocess.empty import drop_empty
from codegen.types import Candidate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Nothing to insert.
        ("", None),
        # Only whitespace and newlines.
        ("  \n\t\n", None),
        # A single line keeps its trailing space.
        ("x + ", "x + "),
        # Trailing blank lines of a multi-line completion go.
        ("x = 1\n    y = 2\n\n", "x = 1\n    y = 2"),
        # A trailing newline after one line goes too.
        ("x = 1\n", "x = 1"),
        # Leading newlines are meaningful and stay.
        ("\n    return 1", "\n    return 1"),
    ],
)
def test_drop_empty(raw: str, expected: str | None) -> None:
    ctx = FilterContext("def f():\n    \n", 13, single_line=False)
    result = drop_empty(Candidate(raw, raw, 13), ctx)
    assert (None if result is None else result.insert) == expected
