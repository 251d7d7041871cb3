"""How the other-language FIM benchmark cuts its holes (`bench.fim_language_cases`)."""

from __future__ import annotations

import pytest

from bench.fim_language_cases import BODIES, cut, error_count, hole_lines
from prompts.languages import by_id

TYPESCRIPT = """\
// a comment outside any function
const limit = 10;

export function clamp(value: number): number {
  // not a hole: a comment
  if (value > limit) {
    return limit;
  }
  const low = Math.max(value, 0);
  return low;
}
"""


def holes(language_id: str, source: str) -> list[str]:
    """The hole lines' text, stripped."""
    language = by_id(language_id)
    assert language is not None
    rows = hole_lines(language, BODIES[language_id], source)
    return [source.split("\n")[row].strip() for row in rows]


def test_holes_are_whole_statements_inside_function_bodies() -> None:
    # Not the top-level const, the comment, `if (...) {` or `}`: each is no whole statement
    # in a body; `return limit;` sits in the if's block, still inside the function.
    assert holes("typescript", TYPESCRIPT) == [
        "return limit;", "const low = Math.max(value, 0);", "return low;",
    ]


@pytest.mark.parametrize(
    ("language_id", "source", "expected"),
    [
        # Go: statements have no semicolons; the func's own braces are not holes.
        ("go", "package p\n\nfunc f(a int) int {\n\tb := a + 1\n\treturn b\n}\n",
         ["b := a + 1", "return b"]),
        # Rust: a tail expression is a hole like a statement.
        ("rust", "fn f(a: u32) -> u32 {\n    let b = a + 1;\n    b * 2\n}\n",
         ["let b = a + 1;", "b * 2"]),
        # C: `x++;` is four characters, the shortest hole; `y;` is too short.
        ("c", "int f(int x) {\n  x++;\n  y;\n  return x;\n}\n", ["x++;", "return x;"]),
        # Java: a constructor's body counts, a field does not.
        ("java", "class A {\n  int n = 1;\n  A(int k) {\n    this.n = k;\n  }\n}\n",
         ["this.n = k;"]),
        # A body holding a syntax error gives no holes at all.
        ("javascript", "function f() {\n  let a = 1;\n  let = = 2;\n}\n", []),
    ],
)
def test_holes_per_language(language_id: str, source: str, expected: list[str]) -> None:
    assert holes(language_id, source) == expected


def test_cut_empties_the_line_and_keeps_its_indentation() -> None:
    language = by_id("typescript")
    assert language is not None
    case = cut(language, "pkg-1.0/clamp.ts", TYPESCRIPT, 8, 0)
    assert case.canonical == "const low = Math.max(value, 0);"
    assert case.line == 9
    assert case.text.split("\n")[8] == "  "
    assert case.text[: case.offset].endswith("\n  ")
    assert case.text[: case.offset] + case.canonical + case.text[case.offset :] == TYPESCRIPT
    assert case.document_errors == error_count(language, case.text) == 0
