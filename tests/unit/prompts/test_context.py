from __future__ import annotations

import textwrap
from dataclasses import replace
from typing import Any

import pytest

from prompts.context import (
    Check,
    Example,
    FunctionContext,
    docstring_examples,
    find_function,
    function_context,
    render_checks,
    workspace_tests,
)
from prompts.context import TestCase as WrittenTest  # not a pytest class


def pairs(docstring: str, name: str, params: tuple[str, ...] = ()) -> list[tuple[str, str | None]]:
    examples = docstring_examples(textwrap.dedent(docstring), name, params=params)
    return [(example.call, example.expected) for example in examples]


@pytest.mark.parametrize(
    ("docstring", "name", "params", "expected"),
    [
        # Doctest: a call and its output on the next line.
        (">>> add(1, 2)\n3\n", "add", (), [("add(1, 2)", "3")]),
        # Doctest continuation lines and an output over two lines.
        (
            ">>> pairs([1,\n...        2])\n[(1,\n  2)]\n",
            "pairs",
            (),
            [("pairs([1,\n       2])", "[(1,\n  2)]")],
        ),
        # Doctest without output: the call returns None.
        (
            ">>> longest([])\n\n>>> longest(['a'])\n'a'\n",
            "longest",
            (),
            [("longest([])", "None"), ("longest(['a'])", "'a'")],
        ),
        # Doctest written as a claim, without the `True` doctest would print.
        (
            ">>> sort_array([3, 1]) == [1, 3]\n",
            "sort_array",
            (),
            [("sort_array([3, 1])", "[1, 3]")],
        ),
        # Doctest wrapped in another call, with a comment: the comment goes.
        (
            ">>> round(find_zero([1, 2]), 2) # f(x) = 1 + 2x\n-0.5\n",
            "find_zero",
            (),
            [("round(find_zero([1, 2]), 2)", "-0.5")],
        ),
        # Doctest comparisons other than a claimed equality keep their shown value.
        (
            ">>> 3 < f(5)\nTrue\n>>> f(1) == 2\nFalse\n",
            "f",
            (),
            [("3 < f(5)", "True"), ("f(1) == 2", "False")],
        ),
        # `f(x) == y` in prose, after `Examples:`.
        ("Examples:\n    search([4, 1, 2]) == 2\n", "search", (), [("search([4, 1, 2])", "2")]),
        # `➞` arrows with a trailing space and blank lines between.
        (
            "will_it_fly([1, 2], 5) ➞ False \n\nwill_it_fly([3], 5) ➞ True\n",
            "will_it_fly",
            (),
            [("will_it_fly([1, 2], 5)", "False"), ("will_it_fly([3], 5)", "True")],
        ),
        # `->`, `=>`, `==>` and `=`.
        (
            "f(1) -> 2\nf(2) => 3\nf(3) ==> 4\nf(4) = 5\n",
            "f",
            (),
            [("f(1)", "2"), ("f(2)", "3"), ("f(3)", "4"), ("f(4)", "5")],
        ),
        # "Example: f(x) -> y" on one line.
        ("Example: double(2) -> 4\n", "double", (), [("double(2)", "4")]),
        # "For example:" then "f(x) returns y", and "should return y." with its full stop.
        (
            "For example:\n    upper('aBCdEf') returns 1\n    upper('') should return 0.\n",
            "upper",
            (),
            [("upper('aBCdEf')", "1"), ("upper('')", "0")],
        ),
        # "f(x) # => y" with an explanation after the value.
        (
            "check(\"1a.dll\") # => 'No' (must start with a letter)\n",
            "check",
            (),
            [('check("1a.dll")', "'No'")],
        ),
        # A bullet and a `for` lead-in.
        (
            "* sort_array([5]) => [5]\nfor x_or_y(7, 34, 12) == 34\n",
            "sort_array",
            (),
            [("sort_array([5])", "[5]")],
        ),
        # A worked computation: the value is what follows the last `=`.
        (
            'fruits("5 apples", 19) ->19 - 5 = 14\n',
            "fruits",
            (),
            [('fruits("5 apples", 19)', "14")],
        ),
        # Lower-case booleans in prose.
        (
            "is_simple_power(1, 4) => true\n",
            "is_simple_power",
            (),
            [("is_simple_power(1, 4)", "True")],
        ),
        # A call over several lines.
        (
            "get_row([\n  [1, 2],\n  [3, 1]\n], 1) == [(0, 0), (1, 1)]\n",
            "get_row",
            (),
            [("get_row([\n  [1, 2],\n  [3, 1]\n], 1)", "[(0, 0), (1, 1)]")],
        ),
        # Input/Output with named inputs, matched to the parameters in order.
        (
            "Input: arr = [4, -4, 4], k = 2\nOutput: [4, 4]\n",
            "maximum",
            ("arr", "k"),
            [("maximum([4, -4, 4], 2)", "[4, 4]")],
        ),
        # Input/Output with `name : value` lines; `bucket_capacity` is the parameter `capacity`.
        (
            "Input:\n    grid : [[0, 1]]\n    bucket_capacity : 1\nOutput: 6\n",
            "max_fill",
            ("grid", "capacity"),
            [("max_fill([[0, 1]], 1)", "6")],
        ),
        # Input/Output with a bare input for a one-parameter function.
        (
            "Example 1:\n    Input: [4,2,3]\n    Output: [2, 1]\n",
            "pluck",
            ("arr",),
            [("pluck([4,2,3])", "[2, 1]")],
        ),
        # "For x = ... the output should be y."
        (
            "For lst = [1,2,3] the output should be 14\n"
            'For s = "ab", c = "a", the result should be (\'b\',False)\n',
            "f",
            ("s", "c"),
            [('f("ab", "a")', "('b',False)")],
        ),
        # MBPP: an assert in the docstring, wrapped in set().
        (
            "assert set(similar((3, 4),(4, 7))) == set((4,))\n",
            "similar",
            (),
            [("set(similar((3, 4),(4, 7)))", "set((4,))")],
        ),
        # An assert that is a condition, not an equality.
        (
            "assert math.isclose(volume(1), 4.18, rel_tol=0.01)\n",
            "volume",
            (),
            [("math.isclose(volume(1), 4.18, rel_tol=0.01)", None)],
        ),
        # Another function's name: not an example of this one.
        ("grade_equation([4.0, 3]) ==> ['A+', 'B']\n", "numerical_letter_grade", (), []),
        # Arguments that are names nobody defined.
        ("is_happy(a) => False\nis_happy(aa) => False\n", "is_happy", (), []),
        # A recurrence: its paragraph may be maths rather than return values, so nothing.
        (
            "Defined by:\ntri(1) = 3\ntri(n) = 1 + n / 2\nExamples:\ntri(3) = [1, 3, 2, 8]\n",
            "tri",
            (),
            [("tri(3)", "[1, 3, 2, 8]")],
        ),
        # ("Venus") is a string but its author meant a tuple: ambiguous, dropped.
        ('bf("Earth", "Mercury") ==> ("Venus")\n', "bf", (), []),
        # Expected values that are not literals, or not finished.
        ('f(1) -> something else\nf(2) -> 2 or 3\nf(3) == ""aa"\n', "f", (), []),
        # A call in the middle of a sentence is prose, not an example.
        ('For example closest("14.5") should\nreturn 15.\n', "closest", (), []),
        # A doctest showing an object address can never match.
        (">>> make()\n<Node object at 0x7f00>\n", "make", (), []),
        # A skipped doctest.
        (">>> slow(1)  # doctest: +SKIP\n2\n", "slow", (), []),
    ],
)
def test_docstring_forms(
    docstring: str, name: str, params: tuple[str, ...], expected: list[tuple[str, str | None]]
) -> None:
    assert pairs(docstring, name, params) == expected


def test_doctest_setup_raises_and_output_are_kept() -> None:
    docstring = textwrap.dedent(
        """\
        Push onto the stack.

        >>> s = Stack()
        >>> s.push(1)
        >>> s.items
        [1]
        >>> s.push(None)
        Traceback (most recent call last):
          ...
        stack.StackError: no None
        >>> s
        Stack([1])
        """
    )
    assert docstring_examples(docstring, "Stack.push", first_line=10, path="stack.py") == [
        Example("s.push(1)", "None", "doctest", 13, "stack.py", setup=("s = Stack()",)),
        Example("s.items", "[1]", "doctest", 14, "stack.py", setup=("s = Stack()", "s.push(1)")),
        Example(
            "s.push(None)",
            None,
            "doctest",
            16,
            "stack.py",
            raises="StackError",
            setup=("s = Stack()", "s.push(1)"),
        ),
        Example(
            "s",
            None,
            "doctest",
            20,
            "stack.py",
            output="Stack([1])",
            setup=("s = Stack()", "s.push(1)"),
        ),
    ]


def test_doctest_and_prose_repeats_are_dropped() -> None:
    docstring = ">>> inc(1)\n2\n\ninc(1) -> 2\ninc( 1 ) == 2\ninc(2) -> 3\n"
    assert pairs(docstring, "inc") == [("inc(1)", "2"), ("inc(2)", "3")]


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        # The plain form.
        (Example("add(1, 2)", "3", "doctest", 1), "assert add(1, 2) == 3"),
        # None is compared by identity.
        (Example("longest([])", "None", "doctest", 1), "assert longest([]) is None"),
        # A float result allows for another summation order.
        (
            Example("mean([1, 2])", "1.5", "doctest", 1),
            "assert abs(mean([1, 2]) - 1.5) <= 1e-09 * max(1.0, abs(1.5))",
        ),
        # A call that is a comparison is parenthesised, so it does not chain with `==`.
        (Example("3 in primes(5)", "True", "doctest", 1), "assert (3 in primes(5)) == True"),
        # A condition written as an assert stays as it was.
        (Example("math.isclose(v(1), 4.2)", None, "informal", 1), "assert math.isclose(v(1), 4.2)"),
        # Setup comes first.
        (
            Example("s.pop()", "1", "doctest", 1, setup=("s = S()", "s.push(1)")),
            "s = S()\ns.push(1)\nassert s.pop() == 1",
        ),
    ],
)
def test_to_assert(example: Example, expected: str) -> None:
    assert example.to_assert() == expected


def outcomes(program: str, examples: list[Example]) -> list[bool]:
    """Run each example's assert after `program`, as the sandbox does."""
    results = []
    for example in examples:
        namespace: dict[str, Any] = {}
        exec(textwrap.dedent(program), namespace)
        try:
            exec(example.to_assert(), namespace)
            results.append(True)
        except AssertionError:
            results.append(False)
    return results


def test_rendered_asserts_hold_exactly_when_the_example_does() -> None:
    program = """
        class Point:
            def __init__(self, x): self.x = x
            def __repr__(self): return f"Point({self.x})"
        def half(x):
            if x < 0:
                raise ValueError("negative")
            return x / 2
        def show(x):
            print("x is", x)
        def point(x):
            return Point(x)
    """
    examples = [
        Example("half(0.3)", "0.15", "doctest", 1),  # 0.3 / 2 is 0.15 only up to rounding
        Example("half(-1)", None, "doctest", 1, raises="ValueError"),
        Example("half(-1)", None, "doctest", 1, raises="KeyError"),
        Example("half(1)", None, "doctest", 1, raises="ValueError"),
        Example("show(3)", None, "doctest", 1, output="x is 3"),
        Example("point(2)", None, "doctest", 1, output="Point(2)"),
        Example("point(2)", None, "doctest", 1, output="Point(3)"),
        Example("half(4)", "3", "informal", 1),
    ]
    assert outcomes(program, examples) == [True, True, False, False, True, True, False, False]


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
