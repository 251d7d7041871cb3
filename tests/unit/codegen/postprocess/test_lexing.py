from __future__ import annotations

import pytest

from codegen.postprocess.lexing import indent_width, opens_block, scan


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        # Every line of plain code starts in code.
        ("a\nb", (True, True)),
        # A line inside brackets does not.
        ("f(\n1)\nx", (True, False, True)),
        # A line inside a triple-quoted string does not.
        ('"""\nx\n"""\ny', (True, False, False, True)),
        # Brackets in strings and comments do not count.
        ("s = '('  # (\nx", (True, True)),
        # A backslash continuation does not.
        ("x = 1 + \\\n2\ny", (True, False, True)),
    ],
)
def test_scan_line_starts(text: str, starts: tuple[bool, ...]) -> None:
    assert scan(text).line_starts == starts


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A def header.
        ("def f():", True),
        # A colon followed by a comment.
        ("if x:  # check: y", True),
        # A dict entry.
        ('"a": 1,', False),
        # A slice.
        ("x = y[1:]", False),
    ],
)
def test_opens_block(line: str, expected: bool) -> None:
    assert opens_block(line) is expected


def test_indent_width_counts_a_tab_as_four() -> None:
    assert indent_width("\t  x") == 6
