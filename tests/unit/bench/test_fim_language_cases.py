"""How the other-language FIM benchmark cuts its holes (`bench.fim_language_cases`)."""

from __future__ import annotations

import pytest

from bench.fim_language_cases import BODIES, cut, error_count, hole_lines, typed_length
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
        # C++: a lambda's body holds holes like a function's.
        ("cpp", "int f(int x) {\n  auto g = [](int y) {\n    return y * 2;\n  };\n"
         "  return g(x);\n}\n",
         ["return y * 2;", "return g(x);"]),
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


@pytest.mark.parametrize(
    ("layout", "document_line", "cursor_line_prefix"),
    [
        # Enter pressed: the emptied line keeps its indentation, the cursor after it.
        ("empty-line", "  ", "  "),
        # A new line above existing code: the cursor at column 0 of the next line.
        ("joined", "  return low;", ""),
        # Typed up to the first bracket; the editor has auto-inserted its closer.
        ("typed", "  const low = Math.max()", "  const low = Math.max("),
    ],
)
def test_each_layout_puts_the_cursor_where_an_editor_would(
    layout: str, document_line: str, cursor_line_prefix: str
) -> None:
    language = by_id("typescript")
    assert language is not None
    case = cut(language, "pkg-1.0/clamp.ts", TYPESCRIPT, 8, 0, layout)
    assert case.layout == layout
    assert case.text.split("\n")[8] == document_line
    assert case.text[: case.offset].split("\n")[-1] == cursor_line_prefix
    # The document with the hole's missing text at the cursor is the original file again.
    missing = {"empty-line": case.canonical, "joined": "  " + case.canonical + "\n",
               "typed": "value, 0);"}[layout]
    end = case.offset + (1 if layout == "typed" else 0)  # the auto-inserted `)` is replaced
    assert case.text[: case.offset] + missing + case.text[end:] == TYPESCRIPT


@pytest.mark.parametrize(
    ("line", "typed"),
    [
        ("const low = Math.max(value, 0);", "const low = Math.max("),
        ("let xs = [a, b];", "let xs = ["),
        ('log("(not a bracket)");', "log("),
        ('const s = "a(b)";', None),  # a quote first: nothing is auto-closed in a string
        ("return low;", None),  # no bracket
        ("f();", None),  # nothing to write between the brackets
    ],
)
def test_typed_layout_types_up_to_the_first_bracket(line: str, typed: str | None) -> None:
    length = typed_length(line)
    assert (None if length is None else line[:length]) == typed


def test_unknown_layout_and_untypable_line_are_refused() -> None:
    language = by_id("typescript")
    assert language is not None
    with pytest.raises(ValueError, match="unknown layout"):
        cut(language, "pkg-1.0/clamp.ts", TYPESCRIPT, 8, 0, "sideways")
    with pytest.raises(ValueError, match="no bracket"):
        cut(language, "pkg-1.0/clamp.ts", TYPESCRIPT, 9, 0, "typed")
