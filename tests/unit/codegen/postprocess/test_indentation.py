from __future__ import annotations

import pytest

from codegen.postprocess.base import FilterContext
from codegen.postprocess.indentation import normalize_indentation, shift_to_block
from codegen.types import Candidate
from prompts.languages import language_for


def apply(marked: str, raw: str, unit: str = "    ", language: str = "python",
          line_above: bool = False) -> str:
    offset = marked.index("║")
    ctx = FilterContext(marked.replace("║", ""), offset, single_line=False, indent_unit=unit,
                        language=language_for(language), line_above=line_above)
    result = normalize_indentation(Candidate(raw, raw, offset), ctx)
    assert result is not None
    return result.insert


BODY = "def f(xs):\n    ║\n"


@pytest.mark.parametrize(
    ("marked", "raw", "unit", "expected"),
    [
        # Already in the file's step: unchanged.
        (BODY, "for x in xs:\n        print(x)", "    ", "for x in xs:\n        print(x)"),
        # A 2-space model in a 4-space file, nesting kept.
        (
            BODY,
            "for x in xs:\n      if x:\n        print(x)\n    return xs",
            "    ",
            "for x in xs:\n        if x:\n            print(x)\n    return xs",
        ),
        # Tabs relative to the cursor's indentation become the file's step.
        (BODY, "for x in xs:\n    \tprint(x)", "    ", "for x in xs:\n        print(x)"),
        # Tabs only, in a space-indented file.
        (BODY, "for x in xs:\n\t\tprint(x)", "    ", "for x in xs:\n        print(x)"),
        # Four spaces in a tab-indented file.
        ("def f(xs):\n\t║\n", "if xs:\n\t    return 1", "\t", "if xs:\n\t\treturn 1"),
        # A 2-space file keeps a 2-space model as is.
        ("def f(xs):\n  ║\n", "if xs:\n    return 1", "  ", "if xs:\n    return 1"),
        # Hanging indents inside brackets are alignment, not nesting.
        (BODY, "y = g(1,\n          2)", "    ", "y = g(1,\n          2)"),
        # Uneven steps are left alone rather than guessed.
        (BODY, "if xs:\n      a = 1\n       b = 2", "    ", "if xs:\n      a = 1\n       b = 2"),
        # A block typed at column 0 under a def is indented into the body.
        ("def f(xs):\n║\n", "y = 1\nreturn y", "    ", "    y = 1\n    return y"),
        # At column 0 with indentation already there, nothing changes.
        ("def f(xs):\n║\n", "    return xs", "    ", "    return xs"),
        # A single line is untouched.
        (BODY, "return xs", "    ", "return xs"),
        # Indentation typed again after the cursor's own is dropped from the first line.
        (
            "def f(n):\n    if n < 2:\n        return n\n    ║\n",
            "    a = 1\n    return a",
            "    ",
            "a = 1\n    return a",
        ),
        # ...but kept when the line above opens a block that needs it.
        ("def f(n):\n    if n:\n    ║\n", "    return n", "    ", "    return n"),
    ],
)
def test_normalize_indentation(marked: str, raw: str, unit: str, expected: str) -> None:
    assert apply(marked, raw, unit) == expected


@pytest.mark.parametrize(
    ("language", "marked", "raw", "unit", "expected"),
    [
        # Under an opener with the cursor already in its body (the editor indented), one
        # level too deep with the lines below following it: moved back as a whole.
        (
            "go", "func f(v []int) {\n\tif len(v) > 0 {\n\t\t║\n\t}\n}\n",
            "\tif v[0] > 1 {\n\t\t\t\treturn\n\t\t\t}", "\t",
            "if v[0] > 1 {\n\t\t\treturn\n\t\t}",
        ),
        # The same in a 2-space TypeScript body, one line.
        ("typescript", "if (ok) {\n  ║\n}\n", "  go();", "  ", "go();"),
        # Lines below that go shallower than the first are not moved: only the first is.
        ("typescript", "if (ok) {\n  ║\n}\n", "  go();\n  done();", "  ", "go();\n  done();"),
        # The cursor at the opener's own indentation: the extra indentation enters the block.
        ("typescript", "if (ok) {\n║\n}\n", "  go();", "  ", "  go();"),
    ],
)
def test_extra_indentation_in_brace_languages(
    language: str, marked: str, raw: str, unit: str, expected: str
) -> None:
    assert apply(marked, raw, unit, language) == expected


@pytest.mark.parametrize(
    ("language", "marked", "raw", "unit", "expected"),
    [
        # A new line above a statement goes at that statement's indentation.
        ("typescript", "function f() {\n  const a = 1;\n║  return a;\n}\n",
         "    const b = 2;\n", "  ", "  const b = 2;\n"),
        # Above the closing brace, one step deeper: the line goes into the block.
        ("typescript", "if (x) {\n  go();\n║}\n", "go2();\n", "  ", "  go2();\n"),
        # Lua, above an else: into the if's body.
        ("lua", "if a then\n  x = 1\n║else\n  x = 2\nend\n", "    y = 2\n", "  ",
         "  y = 2\n"),
        # Python: above a dedented line the new one may belong to the deeper block (the
        # for's body here): the model's indentation is kept.
        ("python", "for x in xs:\n    t += x\n║return t\n", "    n += 1\n", "    ",
         "    n += 1\n"),
        # Go's tabs.
        ("go", "func f() int {\n\ta := 1\n║\treturn a\n}\n", "\t\tb := 2\n", "\t",
         "\tb := 2\n"),
        # A block moves as a whole.
        ("typescript", "function f() {\n║  return a;\n}\n", "    if (x) {\n      go();\n    }\n",
         "  ", "  if (x) {\n    go();\n  }\n"),
        # Under a line that opens a block without braces, or a case label: its body.
        ("c", "int f(int *v) {\n  if (!*v)\n║  return 0;\n}\n", "*v = 1;\n", "  ",
         "    *v = 1;\n"),
        ("java", "switch (k) {\n  case 1:\n║  case 2:\n    go();\n}\n", "  stop();\n", "  ",
         "    stop();\n"),
        # Above the next case: the previous case's body.
        ("java", "switch (k) {\n  case 1:\n    go();\n║  case 2:\n}\n", "  stop();\n", "  ",
         "    stop();\n"),
        # Above a continuation line nothing is known: the model's indentation stays.
        ("rust", "fn f() -> u32 {\n    let n = a\n║        + 1;\n    n\n}\n", "    * 2\n",
         "    ", "    * 2\n"),
        # Already right: unchanged.
        ("typescript", "function f() {\n║  return a;\n}\n", "  go();\n", "  ", "  go();\n"),
    ],
)
def test_a_new_line_above_code_takes_that_code_s_indentation(
    language: str, marked: str, raw: str, unit: str, expected: str
) -> None:
    assert apply(marked, raw, unit, language, line_above=True) == expected


@pytest.mark.parametrize(
    ("marked", "text", "unit", "moved"),
    [
        # Under an opener: into its body, the lines below moved with the first.
        ("if ok:\n║\nx = 1\n", "go()\n    more()", "    ", "    go()\n        more()"),
        ("def f():\n    if ok:\n║\n    return 1\n", "    return 2", "    ", "        return 2"),
        # Elsewhere: to the next code line's level; a string's lines stay as written.
        ("def f():\n    a = 1\n║\n    return a\n", '        s = """x\n  y"""', "    ",
         '    s = """x\n  y"""'),
        ("def f():\n\tif ok:\n║\n\treturn 1\n", "\treturn 2", "\t", "\t\treturn 2"),
        # Already at the level, or after code on the line: nothing to move.
        ("if ok:\n║\n", "    go()", "    ", None),
        ("if ok:\n    x = ║\n", "1", "    ", None),
    ],
)
def test_shift_to_block(marked: str, text: str, unit: str, moved: str | None) -> None:
    offset = marked.index("║")
    ctx = FilterContext(marked.replace("║", ""), offset, single_line=False, indent_unit=unit)
    assert shift_to_block(text, ctx) == moved
