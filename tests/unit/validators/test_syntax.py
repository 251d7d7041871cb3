from __future__ import annotations

import pytest

from validators.base import Splice
from validators.syntax import SyntaxValidator, count_syntax_errors, parses_alone


def check(marked: str, text: str, replace_to_line_end: bool = False) -> bool:
    start = marked.index("║")
    document = marked.replace("║", "")
    end = document.index("\n", start) if replace_to_line_end else start
    return SyntaxValidator().check(Splice(document, start, end, text)).ok


@pytest.mark.parametrize(
    ("marked", "text", "ok"),
    [
        # A complete statement in a function body.
        ("def f(a, b):\n    ║\n", "return a + b", True),
        # An unclosed bracket adds an error.
        ("def f(a, b):\n    ║\n", "return (a + b", False),
        # A dangling operator adds an error.
        ("def f(a, b):\n    ║\n", "return a +", False),
        # Wrong indentation of a continuation line adds an error.
        ("def f(a, b):\n    ║\n", "x = a\n  return x", False),
        # Mid-line: the candidate closes what the line opened.
        ("print(║)\n", "'hi'", True),
        # Mid-line: an extra closing bracket breaks the line.
        ("print(║)\n", "'hi')", False),
        # A half-written document stays acceptable when the candidate adds no new error.
        ("def f(:\n    pass\n\ndef g():\n    ║\n", "return 1", True),
        # A later error of the half-written document is not the candidate's.
        ("def f():\n    ║\n\ndef g(:\n    pass\n", "return 1", True),
        # ... but an error inside the inserted lines is.
        ("def f():\n    ║\n\ndef g(:\n    pass\n", "return 1 +", False),
        # The candidate may repair an error the document had.
        ("def f(x):\n    return (x║\n", ")", True),
        # A candidate must fill the hole at the cursor: here a missing loop header.
        ("def f(xs):\n    ║\n        xs.append(1)\n", "y = 1", False),
        ("def f(xs):\n    ║\n        xs.append(1)\n", "for x in xs:", True),
        # An empty block body stays empty with a comment-only candidate.
        ("if x:\n    ║\nelse:\n    pass\n", "# todo", False),
        ("if x:\n    ║\nelse:\n    pass\n", "y = 1", True),
        # Inside an open bracket, the candidate must close it.
        ("x = foo(║\n", "1, 2", False),
        ("x = foo(║\n", "1, 2)", True),
        # A hole that only pushes the error further down is not filled (a missing `try:`).
        (
            "def f(xs):\n    for x in xs:\n    ║\n            g(x)\n        except:\n"
            "            pass\n",
            "    if x:",
            False,
        ),
        (
            "def f(xs):\n    for x in xs:\n    ║\n            g(x)\n        except:\n"
            "            pass\n",
            "    try:",
            True,
        ),
        # ... while an error in the next function stays the document's own.
        ("def f(xs):\n    ║\n        g(xs)\n\ndef h(:\n    pass\n", "if xs:", True),
        # A function below still without its body is the user's next job, not the hole's:
        # `ast` reports it at that function's line, as it would an empty body at the cursor.
        ("def f(a, b):\n    ║\n\n\ndef g(a, b):\n", "return a + b", True),
        ("def f(a, b):\n    ║\n\n\ndef g(a, b):\n", "# todo", False),
        ("class A:\n    def f(self):\n        ║\n\n    def g(self):\n", "return 1", True),
        # CJK and emoji in strings do not confuse byte offsets.
        ('s = "中文 😀" + ║\n', "str(1)", True),
    ],
)
def test_syntax_verdicts(marked: str, text: str, ok: bool) -> None:
    assert check(marked, text) is ok


def test_replacing_the_rest_of_the_line() -> None:
    assert check("x = foo(║1, 2\n", "1, 2)", replace_to_line_end=True)


def test_verdict_explains_the_error() -> None:
    verdict = SyntaxValidator().check(Splice("def f():\n    \n", 13, 13, "return (1"))
    assert verdict == SyntaxValidator().check(Splice("def f():\n    \n", 13, 13, "return (1"))
    assert not verdict.ok and verdict.check == "syntax"
    assert verdict.reason == "adds a syntax error" and "never closed" in verdict.detail


@pytest.mark.parametrize(
    ("source", "errors"),
    [
        ("x = 1\n", 0),  # valid
        ("def f(:\n", 1),  # one error node
        ("x = (\ny = 2\n", 1),  # an unclosed bracket
    ],
)
def test_count_syntax_errors(source: str, errors: int) -> None:
    assert count_syntax_errors(source) == errors


@pytest.mark.parametrize(
    ("line", "alone"),
    [
        ("        xs.append(1)", True),  # indentation does not matter
        ("else:", True),  # a clause gets its statement
        ("    except ValueError as exc:", True),
        ("@property", True),
        ("def g(:", False),  # broken by itself
        ("foo(a,", False),  # continues on later lines
    ],
)
def test_parses_alone(line: str, alone: bool) -> None:
    assert parses_alone(line) is alone


def test_incremental_parses_match_fresh_ones() -> None:
    # Typing a function one character at a time, then splicing candidates into it: each
    # parse reuses a recent tree and must give exactly the tree of a fresh parse.
    from validators.syntax import parse_python, python_parser

    final = 'def área(x: int) -> str:\n    """Doc 😀."""\n    if x > 1:\n        return "big"\n'
    texts = [final[:k] + "\n\nprint(1)\n" for k in range(0, len(final), 3)]
    texts += [final + candidate for candidate in ("    return 'x'\n", "  ]\n", "x = (\n")]
    for text in texts:
        fresh = python_parser().parse(text.encode("utf-8")).root_node
        assert str(parse_python(text).root_node) == str(fresh)
