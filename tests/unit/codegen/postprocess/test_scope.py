from __future__ import annotations

import pytest

from codegen.postprocess.scope import (
    completion_scope,
    detect_indent_unit,
    in_string_or_comment,
    inserts_line_above,
    is_single_line,
)


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
        # An empty body: several lines.
        ("def f():\n    ║\n", "block"),
        # The end of a block (the next code is less indented): several lines.
        ("def f():\n    x = 1\n    ║\ndef g():\n    pass\n", "block"),
        # At the end of the file.
        ("x = 1\n║", "block"),
        # Code of the same block follows: one statement.
        ("def f():\n    x = 1\n    ║\n    return x\n", "statement"),
        # Column 0 of an empty line under an opener whose body follows: one statement.
        ("for x in xs:\n║\n    print(x)\n", "statement"),
        # Column 0 under an opener whose body is missing: several lines.
        ("def f():\n║\nprint(f())\n", "block"),
        # A typed compound-statement header asks for its body.
        ("def f(xs):\n    for x in ║\n    return 0\n", "block"),
        ("def f(ok):\n    if ok:║\n    return 0\n", "block"),
        # A partly typed simple statement with code after it: one statement.
        ("def f():\n    y = ║\n    return y\n", "statement"),
        # After a decorator: the function it decorates.
        ("@cache\n║\nx = 1\n", "block"),
        # Code after the cursor on its line: one line.
        ("x = f(║, 2)\n", "line"),
        # Inside a docstring: several lines.
        ('def f():\n    """Doc\n    ║\n    """\n    return 1\n', "block"),
        # The next code is deeper: its header is being written, one line.
        ("def f(xs):\n    ║\n        print(xs)\n    return 0\n", "line"),
        ("def f(xs):\n    n = 0\n║\n        n += 1\n", "line"),
        ("def f(xs):\n    for x in ║\n        print(x)\n", "line"),
        # Column 0 between a nested block and shallower code: one statement at that level.
        ("def f():\n    def g():\n        return 1\n║\n    return g()\n", "statement"),
    ],
)
def test_completion_scope(marked: str, expected: str) -> None:
    assert completion_scope(*split(marked)) == expected


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        ("def f():\n║    return 1\n", True),  # column 0 of a line with code
        ("def f():\n    ║return 1\n", False),  # inside the line's indentation
        ("║\nx = 1\n", False),  # an empty line
    ],
)
def test_inserts_line_above(marked: str, expected: bool) -> None:
    assert inserts_line_above(*split(marked)) is expected


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
        # Two spaces under JSDoc comments, whose " * " lines sit one space in (lodash):
        # they are no indentation step (they once made the step one space).
        ("/**\n * Trims.\n *\n * @param {string} s\n */\nfunction trim(s) {\n  if (!s) {\n"
         "    /**\n     * Empty.\n     */\n    return '';\n  }\n  return s;\n}\n", "  "),
        # Four spaces, one hanging indent aligned under an open bracket.
        ("int f(int a,\n      int b) {\n    if (a) {\n        return b;\n    }\n"
         "    return a;\n}\n", "    "),
    ],
)
def test_detect_indent_unit(text: str, expected: str) -> None:
    assert detect_indent_unit(text) == expected
