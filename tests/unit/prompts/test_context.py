"""Finding the function at the cursor, the tests around it, and the checks it gets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from prompts.context import (
    Check,
    Example,
    FunctionContext,
    find_function,
    function_context,
    prompt_test_sections,
    render_checks,
    workspace_tests,
)
from prompts.context import TestCase as WrittenTest  # not a pytest class

DOCUMENT = '''\
import math

class Stack:
    """A stack."""

    @staticmethod
    def pop(self,  # the stack
            default: int = 0) -> int:  # the top
        """Pop.

        >>> Stack().pop()
        0
        """
        def inner(x):
            return x

        return default

def area(r: float) -> float:
    """Area of a circle.

    area(1) -> 3.14159
    """
'''


def offset_of(text: str, marker: str, shift: int = 0) -> int:
    return text.index(marker) + shift


def test_find_function_in_a_parsable_document() -> None:
    found = find_function(DOCUMENT, offset_of(DOCUMENT, "return default"))
    assert found == FunctionContext(
        name="pop",
        qualname="Stack.pop",
        signature="def pop(self,  # the stack\n            default: int = 0) -> int:",
        docstring="Pop.\n\n>>> Stack().pop()\n0",
        class_name="Stack",
        start_line=6,
        end_line=17,
        docstring_line=9,
        params=("default",),
        defined=frozenset({"math", "Stack", "area"}),
    )


def test_find_function_picks_the_innermost_and_the_one_just_written() -> None:
    inner = find_function(DOCUMENT, offset_of(DOCUMENT, "return x"))
    assert inner is not None and inner.qualname == "Stack.pop.<locals>.inner"
    # HumanEval: the cursor on the line after the docstring, at column 0.
    last = find_function(DOCUMENT, len(DOCUMENT))
    assert last is not None and (last.name, last.start_line, last.end_line) == ("area", 19, 24)
    # Between two functions, after a blank line at column 0: in neither.
    assert find_function(DOCUMENT, offset_of(DOCUMENT, "def area")) is not None
    assert find_function(DOCUMENT, offset_of(DOCUMENT, "def area") - 1) is None
    assert find_function(DOCUMENT, 0) is None


@pytest.mark.parametrize(
    ("text", "name", "docstring"),
    [
        # A half-written body: tree-sitter still sees the function.
        (
            'def add(a, b):\n    """Add.\n\n    >>> add(1, 2)\n    3\n    """\n    return a +|\n',
            "add",
            "Add.\n\n>>> add(1, 2)\n3",
        ),
        # A half-written method after a broken line.
        ('class C:\n    def m(self, x):\n        """M."""\n        if x\n        |\n', "m", "M."),
        # The docstring itself is being written: nothing closes it.
        (
            'x = 1\n\ndef add(a, b):\n    """Add two numbers.\n\n    add(1, 2) == 3|\n',
            "add",
            "Add two numbers.\n\nadd(1, 2) == 3",
        ),
        # The signature is being written.
        ("def area(r: float,|\n", "area", None),
    ],
)
def test_find_function_in_a_broken_document(text: str, name: str, docstring: str | None) -> None:
    found = find_function(text.replace("|", ""), text.index("|"))
    assert found is not None
    assert (found.name, found.docstring) == (name, docstring)


def test_docstring_escapes_stay_as_written() -> None:
    text = 'def rv(s):\n    """\n    >>> rv("a\\nb")\n    \'a\\\\\\\\nb\'\n    """\n'
    found = function_context(text, len(text))
    assert found is not None
    assert found.docstring == ">>> rv(\"a\\nb\")\n'a\\\\nb'"
    assert [(e.call, e.expected, e.line) for e in found.examples] == [
        ('rv("a\\nb")', "'a\\\\nb'", 3)
    ]


WORKSPACE = {
    "tests/test_geometry.py": """\
import pytest
from geometry import area, Circle

def test_area():
    assert area(1) == pytest.approx(3.14159)

def test_unit():
    assert area(0) == 0

def test_other():
    assert Circle(1).r == 1

class TestArea:
    def test_method(self):
        self.assertEqual(area(2), 12.56)

def check(candidate):
    assert area(3) > 28
""",
    "geometry.py": """\
def area(r):
    return 3.14159 * r * r

assert area(1) > 3

def helper(x):
    assert area(x) >= 0

if __name__ == "__main__":
    assert area(2) > 12
""",
    "tests/conftest.py": "def test_area():\n    assert area(1) == 3\n",
    "broken_test.py": "def f(:\nassert area(5) > 78\n",
    "tests/test_shapes.py": "from shapes import area\n\nassert area(1) == 1\n",
    "tests/test_own.py": "def area(r):\n    return r\n\nassert area(1) == 1\n",
}


def test_workspace_tests() -> None:
    tests = workspace_tests("area", WORKSPACE, exclude_path="geometry.py")
    assert tests == [
        WrittenTest(
            "def test_area():\n    assert area(1) == pytest.approx(3.14159)",
            "tests/test_geometry.py",
            4,
            "test_area",
        ),
        WrittenTest(
            "def test_unit():\n    assert area(0) == 0", "tests/test_geometry.py", 7, "test_unit"
        ),
        WrittenTest(
            "def test_method(self):\n    self.assertEqual(area(2), 12.56)",
            "tests/test_geometry.py",
            14,
            "TestArea.test_method",
        ),
        WrittenTest("assert area(3) > 28", "tests/test_geometry.py", 18),
        WrittenTest("assert area(5) > 78", "broken_test.py", 2),
    ]
    in_module = workspace_tests("area", WORKSPACE)
    assert [(t.path, t.line) for t in in_module if t.path == "geometry.py"] == [
        ("geometry.py", 4),
        ("geometry.py", 10),
    ]


def test_function_context_and_its_checks() -> None:
    text = '''\
import math

def area(r: float) -> float:
    """Area of a circle.

    >>> area(0)
    0.0

    area(1) -> 3.141592653589793
    assert math.isclose(area(2), 12.566, rel_tol=1e-3)
    """
    |

assert area(3) > 28
'''
    files = {"geometry.py": "stale", **WORKSPACE}
    found = function_context(text.replace("|", ""), text.index("|"), files, path="geometry.py")
    assert found is not None
    assert [(e.kind, e.line) for e in found.examples] == [
        ("doctest", 6),
        ("informal", 9),
        ("informal", 10),
    ]
    assert [(t.path, t.line) for t in found.tests][:3] == [
        ("geometry.py", 14),
        ("tests/test_geometry.py", 4),
        ("tests/test_geometry.py", 7),
    ]
    checks = render_checks(found)
    # pytest.approx, `self` and names the document lacks cannot run in the sandbox.
    assert [check.source for check in checks] == [
        "assert abs(area(0) - 0.0) <= 1e-09 * max(1.0, abs(0.0))",
        "assert abs(area(1) - 3.141592653589793) <= 1e-09 * max(1.0, abs(3.141592653589793))",
        "assert math.isclose(area(2), 12.566, rel_tol=1e-3)",
        "assert area(3) > 28",
        "def test_unit():\n    assert area(0) == 0\ntest_unit()",
        "assert area(5) > 78",
    ]
    namespace: dict[str, Any] = {}
    exec("import math\ndef area(r):\n    return math.pi * r * r\n", namespace)
    for check in checks:
        exec(check.source, namespace)


def test_checks_import_the_standard_modules_they_use() -> None:
    context = FunctionContext("f", "f", "def f():", None, None, 1, 2, defined=frozenset({"f"}))
    example = Example("statistics.mean([f()])", "1", "informal", 1)
    unknown = Example("f(x)", "1", "informal", 1)
    checks = render_checks(replace(context, examples=(example, unknown)))
    assert checks == (Check("import statistics\nassert statistics.mean([f()]) == 1", example),)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01 def",
        "def",
        "def f(",
        'def f():\n    """',
        "def f():\n    '''>>> f(\n...",
        "class C:\n    def m(self):\n        '''\n        >>> C().m(\n        '''\n",
        "def f():\n\t'''\n  >>> f()\n\t1\n   >>>f()\n'''\n",
        "def f():\n    '''f(1) -> [[[[[[\n'''\n",
        "def f():\n    '''" + "f(" * 5000 + "'''\n",
        "def f():\n    '''Input: x = \nOutput:\n'''\n",
        "if True:\n" + "    " * 200 + "def g(): pass\n",
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    for offset in range(-1, len(text) + 2, max(1, len(text) // 50)):
        found = function_context(text, offset, {"test_x.py": text, "y.py": text})
        if found is not None:
            render_checks(found)


def test_tests_for_prompt_brings_other_files_tests_of_the_function() -> None:
    document = (
        "def double(x: int) -> int:\n"
        "    return \n"
        "\n\n"
        "def test_here():\n"
        "    assert double(1) == 2\n"
    )
    files = {
        "tests/test_math.py": (
            "from calc import double, half\n\n\n"
            "def test_half():\n    assert half(4) == 2\n\n\n"
            "def test_double_zero():\n    assert double(0) == 0\n\n\n"
            "def test_double():\n    assert double(3) == 6\n"
        ),
        "calc.py": document,
    }
    offset = document.index("return ") + len("return ")
    found = prompt_test_sections(document, offset, files, path="calc.py")
    assert found == [(
        "tests/test_math.py",
        "def test_double_zero():\n    assert double(0) == 0\n\n"
        "def test_double():\n    assert double(3) == 6\n",
    )]  # the document's own test is already in the prompt; `half`'s is not about `double`
    assert prompt_test_sections(document, offset, {}, path="calc.py") == []
    assert prompt_test_sections("x = 1\n", 5, files, path="calc.py") == []
