from __future__ import annotations

import pytest

from codegen.postprocess.base import FilterContext
from codegen.postprocess.single_line import limit_to_line
from codegen.types import Candidate


@pytest.mark.parametrize(
    ("single_line", "raw", "expected"),
    [
        # Multi-line scope: nothing changes.
        (False, "a\nb", "a\nb"),
        # Single-line scope: cut at the first newline.
        (True, "a)\nprint(b)", "a)"),
        # A single line is kept as is, trailing space included.
        (True, "a ", "a "),
        # A carriage return before the newline goes too.
        (True, "a\r\nb", "a"),
        # An empty first line leaves nothing to show.
        (True, "\n    a,\n)", None),
        # A blank first line leaves nothing to show.
        (True, "   \nb", None),
    ],
)
def test_limit_to_line(single_line: bool, raw: str, expected: str | None) -> None:
    ctx = FilterContext("f()\n", 2, single_line=single_line)
    result = limit_to_line(Candidate(raw, raw, 2), ctx)
    assert (None if result is None else result.insert) == expected
