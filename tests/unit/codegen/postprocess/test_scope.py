from __future__ import annotations

import pytest

from codegen.postprocess.scope import detect_indent_unit, in_string_or_comment, is_single_line


def split(marked: str) -> tuple[str, int]:
    return marked.replace("║", ""), marked.index("║")


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        # An empty line in a body may take a block.
        ("def f():\n    ║\n", False),
        # Code after the cursor limits it to one line.
        ("x = f(║, 2)\n", True),
        # A closing bracket alone after the cursor still limits it.
        ("print(║)\n", True),
        # Inside a comment.
        ("x = 1  # note║\n", True),
        # Inside an unterminated one-line string.
        ('x = "abc║\n', True),
        # Just after a closed string the statement is over: lines may follow.
        ('x = "abc"║\n', False),
        # Inside a docstring, more lines may follow.
        ('def f():\n    """Doc\n    ║\n', False),
        # After a closed triple-quoted string.
        ('x = """abc"""║\n', False),
        # A hash inside a string is not a comment.
        ('x = "#"║\n', False),
        # Inside a closed one-line string, with code after it on later lines.
        ('x = "ab║c"\ny = 2\n', True),
        # Inside a closed triple-quoted string with a prefix: lines may follow.
        ("x = rb\'\'\'ab\n║\n\'\'\'\n", False),
        # A comment on its own line, cursor at its end.
        ("def f():\n    # todo║\n    pass\n", True),
    ],
)
def test_is_single_line(marked: str, expected: bool) -> None:
    assert is_single_line(*split(marked)) is expected


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        # Plain code.
        ("x = ║", False),
        # In a comment.
        ("# ║", True),
        # In a string.
        ("x = 'a║", True),
        # In an f-string with a CJK prefix.
        ('x = f"你好，{║', True),
        # After an escaped quote the string is still open.
        ('x = "a\\"║', True),
        # A comment ends at the newline.
        ("# a\n║", False),
    ],
)
def test_in_string_or_comment(marked: str, expected: bool) -> None:
    assert in_string_or_comment(*split(marked)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # No indentation at all: the default.
        ("x = 1\n", "    "),
        # Four spaces.
        ("def f():\n    if x:\n        pass\n", "    "),
        # Two spaces.
        ("def f():\n  if x:\n    pass\n", "  "),
        # Tabs.
        ("def f():\n\tif x:\n\t\tpass\n", "\t"),
    ],
)
def test_detect_indent_unit(text: str, expected: str) -> None:
    assert detect_indent_unit(text) == expected
