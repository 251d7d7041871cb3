from __future__ import annotations

import pytest

from codegen.postprocess.base import FilterContext
from codegen.postprocess.block_end import cut_at_block_end
from codegen.types import Candidate


def apply(marked: str, raw: str) -> str | None:
    offset = marked.index("║")
    ctx = FilterContext(marked.replace("║", ""), offset, single_line=False)
    result = cut_at_block_end(Candidate(raw, raw, offset), ctx)
    return None if result is None else result.insert


@pytest.mark.parametrize(
    ("marked", "raw", "expected"),
    [
        # Code after a return at the same indentation is dead: cut it.
        (
            "def f(n):\n    if n < 2:\n        return n\n    ║\n",
            "return f(n - 1) + f(n - 2)\n\n    # Example usage:\n    print(f(10))",
            "return f(n - 1) + f(n - 2)",
        ),
        # A return inside a branch does not end the code after the branch.
        (
            "def f(x):\n    ║\n",
            "if x:\n        return 1\n    y = 2\n    return y",
            "if x:\n        return 1\n    y = 2\n    return y",
        ),
        # A single line is never cut.
        ("def f():\n    ║\n", "return 1", "return 1"),
        # A line dedenting out of the function body ends the completion.
        ("def f():\n    ║\n", "x = 1\n    return x\nprint(f())", "x = 1\n    return x"),
        # Blank lines before the cut go with it.
        ("def f():\n    ║\n", "return 1\n\n\nx = f()", "return 1"),
        # Blank lines between kept lines stay.
        ("def f():\n    ║\n", "x = 1\n\n    return x", "x = 1\n\n    return x"),
        # A new method at the class level ends a method body.
        (
            "class A:\n    def f(self):\n        ║\n",
            "return 1\n\n    def g(self):\n        return 2",
            "return 1",
        ),
        # A cursor line ending with a colon opens a deeper block.
        ("def f(x):\n    if x:║\n", "\n        return 1\n    return 2", "\n        return 1"),
        # An else clause at the opener's indentation continues the statement.
        (
            "def f(x):\n    if x:║\n",
            "\n        return 1\n    else:\n        return 2",
            "\n        return 1\n    else:\n        return 2",
        ),
        # Lines inside brackets may dedent to close them.
        (
            "def f():\n    x = g(║\n",
            "\n        1,\n    )\n    return x",
            "\n        1,\n    )\n    return x",
        ),
        # Lines inside a string are not code.
        (
            'def f():\n    s = """║\n',
            'a\nb\n"""\n    return s',
            'a\nb\n"""\n    return s',
        ),
        # At column 0 the first line sets the block's indentation.
        ("def f():\n    x = 1\n║\n", "    y = 2\n    return y\nf()", "    y = 2\n    return y"),
        # At column 0 with an unindented block, the indentation filter fixes it later.
        ("def f():\n║\n", "x = 1\nreturn x", "x = 1\nreturn x"),
        # At the top level a completion may go on with more top-level code.
        ("import os\n║\n", "x = 1\ndef f():\n    return x", "x = 1\ndef f():\n    return x"),
        # Nothing but an empty first line is left: the candidate goes.
        ("def f():\n    ║\n", "\nprint(1)", None),
    ],
)
def test_cut_at_block_end(marked: str, raw: str, expected: str | None) -> None:
    assert apply(marked, raw) == expected
