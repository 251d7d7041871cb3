"""Examples in docstrings: the forms recognised, and the asserts they become."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from prompts.context import Example, docstring_examples


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


def test_doctest_directives_compare_as_doctest_does() -> None:
    docstring = textwrap.dedent("""
        >>> first(20)  # doctest: +ELLIPSIS
        [0, 1, ..., 19]
        >>> first(3)  # doctest: +NORMALIZE_WHITESPACE
        [0,  1,
         2]
        >>> first(2)
        [0, 1]
    """)
    examples = docstring_examples(docstring, "first")
    assert [(e.call, e.expected, e.output) for e in examples] == [
        ("first(20)", None, "[0, 1, ..., 19]"),
        ("first(3)", None, "[0,  1,\n 2]"),
        ("first(2)", "[0, 1]", None),
    ]
    namespace: dict[str, Any] = {}
    exec("def first(n):\n    return list(range(n))\n", namespace)
    for example in examples:
        exec(example.to_assert(), namespace)  # the right function passes every one
    exec("def first(n):\n    return list(range(1, n))\n", namespace)
    with pytest.raises(AssertionError):
        exec(examples[0].to_assert(), namespace)
