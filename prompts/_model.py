"""The typed results of context extraction, and how each becomes a self-contained check."""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from typing import Literal

from prompts._source import is_float_value, parse, parse_expression

ExampleKind = Literal["doctest", "informal"]
"""Where an example was read: a `>>>` doctest, or prose such as `f(1) -> 2` or `Input:`."""

FLOAT_TOLERANCE = 1e-9
"""Relative tolerance for a float result: another summation order must not fail an example."""


@dataclass(frozen=True)
class Example:
    """One call of the function with its documented outcome, read from the docstring."""

    call: str
    """Expression that calls the function, as written: `add(1, 2)`, `round(area(2), 2)`."""
    expected: str | None
    """Expression for the value `call` should equal.

    None when the outcome is `raises` or `output`; when those are None too, `call` is itself a
    condition that must hold (an `assert` written in the docstring).
    """
    kind: ExampleKind
    """How the example was written: as a doctest or in prose."""
    line: int
    """1-based line where the example starts in its file."""
    path: str = ""
    """File the example was read from."""
    raises: str | None = None
    """Name of the exception class the call should raise (from a doctest traceback)."""
    output: str | None = None
    """What a doctest shows for the call when that is no Python literal (`Point(1, 2)`)."""
    setup: tuple[str, ...] = ()
    """Earlier doctest statements the call depends on (`s = Stack()`), in order."""

    def to_assert(self) -> str:
        """Render as standalone Python that raises exactly when the example does not hold."""
        return render_assert(self)


@dataclass(frozen=True)
class TestCase:
    """A test of the function written in the user's code: a `test_*` function or an assert."""

    source: str
    """Dedented source: the whole test function with its decorators, or the assert statement."""
    path: str
    """File the test was read from."""
    line: int
    """1-based first line in its file."""
    name: str | None = None
    """Qualified test function name (`TestAdd.test_small`); None for an assert statement."""

    def to_check(self) -> str | None:
        """Render as statements that raise when the test fails, or None if it needs pytest."""
        if self.name is None:
            return self.source
        tree = parse(self.source)
        node = tree.body[0] if isinstance(tree, ast.Module) and len(tree.body) == 1 else None
        # Fixtures, parametrize marks and `self` need a test runner the sandbox does not have.
        if not isinstance(node, ast.FunctionDef) or node.decorator_list or _has_params(node):
            return None
        return f"{self.source}\n{node.name}()"


@dataclass(frozen=True)
class FunctionContext:
    """The function around the cursor, with the tests already written for it."""

    name: str
    """Bare name, as it is called: `push`."""
    qualname: str
    """Dotted path from the module, like `__qualname__`: `Stack.push`, `outer.<locals>.f`."""
    signature: str
    """The `def` line(s) up to and including the colon, annotations and all."""
    docstring: str | None
    """Docstring as written in the source (escapes kept, `\\\\` halved), dedented."""
    class_name: str | None
    """Name of the class the function is a method of."""
    start_line: int
    """1-based line of the first decorator or of `def`."""
    end_line: int
    """1-based last line of the body, the cursor's line when it is past the end."""
    docstring_line: int = 0
    """1-based line of the docstring's first line, 0 without a docstring."""
    params: tuple[str, ...] = ()
    """Positional parameter names in order, without `self`/`cls` of a method."""
    defined: frozenset[str] = frozenset()
    """Names the document binds at module level: what checks may rely on."""
    examples: tuple[Example, ...] = ()
    """Calls and outcomes from the docstring (empty from `find_function`)."""
    tests: tuple[TestCase, ...] = ()
    """Tests of the function elsewhere in the document and workspace, most relevant first."""


@dataclass(frozen=True)
class Check:
    """Statements to run after a candidate program; the check passes when nothing raises."""

    source: str
    """Python to execute in the program's namespace."""
    origin: Example | TestCase
    """What the check was rendered from, to explain a failure."""


def render_assert(example: Example) -> str:
    """Standalone statements that raise exactly when `example` does not hold."""
    call = _operand(example.call, arithmetic=True)
    if example.raises is not None:
        body = _raises(example.call, example.raises)
    elif example.expected == "None":
        body = f"assert {call} is None"
    elif example.expected is not None:
        expected_node = parse_expression(example.expected)
        expected = _operand(example.expected, arithmetic=True)
        if expected_node is not None and is_float_value(expected_node):
            limit = f"{FLOAT_TOLERANCE!r} * max(1.0, abs({expected}))"
            body = f"assert abs({_operand(example.call)} - {expected}) <= {limit}"
        else:
            body = f"assert {call} == {expected}"
    elif example.output is not None:
        body = _shows(example.call, example.output)
    else:
        body = f"assert {example.call}"
    return "\n".join([*example.setup, body])


def _raises(call: str, exception: str) -> str:
    # Match by class name along the MRO: the exception class may not be importable by name
    # in the program's namespace, and a subclass satisfies the example as in doctest.
    return "\n".join(
        [
            "try:",
            textwrap.indent(call, "    "),
            "except Exception as _error:",
            f"    assert {exception!r} in [c.__name__ for c in type(_error).__mro__], _error",
            "else:",
            f"    raise AssertionError({f'did not raise {exception}'!r})",
        ]
    )


def _shows(call: str, output: str) -> str:
    # Doctest semantics: what is printed, then the repr of a non-None value, compared with
    # doctest's own checker (ELLIPSIS for `<Node at ...>`, whitespace normalised).
    flags = "_doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE"
    return "\n".join(
        [
            "import contextlib as _contextlib, doctest as _doctest, io as _io",
            "with _contextlib.redirect_stdout(_io.StringIO()) as _shown:",
            f"    _value = {_operand(call)}",
            "    if _value is not None:",
            "        print(repr(_value))",
            f"assert _doctest.OutputChecker().check_output({output + chr(10)!r},"
            f" _shown.getvalue(), {flags}), _shown.getvalue()",
        ]
    )


_ATOMS = (
    ast.Call,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Constant,
    ast.List,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
)


def _operand(source: str, arithmetic: bool = False) -> str:
    """`source`, parenthesised unless it is an atom: `x in f(y)` must not chain with `==`.

    With `arithmetic`, `-1` and `19 - 5` pass bare too: they bind tighter than `==`.
    """
    node = parse_expression(source)
    text = source.strip()
    bare = isinstance(node, _ATOMS) or (
        arithmetic
        and (
            isinstance(node, ast.BinOp)
            or (isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not))
        )
    )
    return text if bare else f"({text})"


def _has_params(node: ast.FunctionDef) -> bool:
    args = node.args
    return bool(args.posonlyargs or args.args or args.vararg or args.kwonlyargs or args.kwarg)
