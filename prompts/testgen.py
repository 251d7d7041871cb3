r"""The chat prompt that asks an instruct model for unit tests, and reading its answer.

Three parts, as instruct models are prompted for a task: a role (system message), one worked
example (a user turn and the assistant's answer, so the model sees the exact output shape),
and the task: the function's import line, signature and source, the examples its docstring
gives, the tests that already exist, and in later rounds the lines and branches no test has
run yet. Qwen2.5's chat format (``<|im_start|>role\n...<|im_end|>``), control tokens
inserted as ids as in the FIM prompts.

`parse_tests` turns the answer into test functions that can run alone: the code inside
```` ```python ```` fences (or the whole answer), cut where a truncated answer stops
parsing; module-level imports kept; every ``test_*`` function without parameters or
decorators (the sandbox calls them directly) becomes one test.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from prompts.templates import IM_END, IM_START, SPECIAL_TOKEN_IDS, Prompt, Tokenizer, encode_text

SYSTEM = (
    "You are a meticulous Python test engineer. You write small, deterministic pytest unit "
    "tests that pass against the code exactly as it is written, and you never guess an "
    "expected value: you work it out from the code."
)

_EXAMPLE_TASK = """Write pytest unit tests for the function `median` of module `stats.basic`.

Import it with:
from stats.basic import median

Its source:
```python
def median(values: list[float]) -> float:
    \"\"\"The middle value; the mean of the two middle values for an even count.\"\"\"
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
```

Not run by any test yet: lines 4, 5, 6, 7, 8, 9."""

_EXAMPLE_ANSWER = """```python
import pytest

from stats.basic import median


def test_median_of_an_odd_count_is_the_middle_value():
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_median_of_nothing_raises():
    with pytest.raises(ValueError):
        median([])
```"""

RULES = (
    "Rules: plain test functions named test_..., without parameters, fixtures, classes or "
    "decorators; one behaviour per test, checked with assert; expected values must be what "
    "the code above really returns; pytest.raises for exceptions; import only the standard "
    "library, pytest and the module under test. Answer with one ```python block and nothing "
    "else."
)


@dataclass(frozen=True)
class TestTask:
    """What the model is told about the function to test."""

    __test__ = False  # not a pytest test class

    module: str
    """Dotted module name."""
    function: str
    """Qualified name (`Stack.push` for a method)."""
    import_line: str
    source: str
    """The function's source, decorators and docstring included."""
    first_line: int = 1
    """File line of `source`'s first line (uncovered lines are given as file lines)."""
    examples: tuple[str, ...] = ()
    """Docstring examples as asserts."""
    existing: tuple[str, ...] = ()
    """Sources of tests that already exist for it."""
    uncovered_lines: tuple[int, ...] = ()
    uncovered_branches: tuple[tuple[int, int], ...] = ()


def task_text(task: TestTask) -> str:
    """The user message of the task."""
    parts = [
        f"Write pytest unit tests for the function `{task.function}` of module `{task.module}`.",
        f"Import it with:\n{task.import_line}",
        f"Its source (line {task.first_line} of the file is its first line):\n```python\n"
        f"{task.source.rstrip()}\n```",
    ]
    if task.examples:
        parts.append("Its docstring documents:\n" + "\n".join(task.examples))
    if task.existing:
        shown = "\n\n".join(task.existing[:8])
        parts.append(f"Tests that already exist (do not repeat them):\n```python\n{shown}\n```")
    lines = _source_lines(task)
    if task.uncovered_lines or task.uncovered_branches:
        todo = [f"line {n}: `{lines.get(n, '').strip()}`" for n in task.uncovered_lines]
        todo += [
            f"the branch from line {a} (`{lines.get(a, '').strip()}`) to "
            + (f"line {b}" if b > 0 else "leaving the function")
            for a, b in task.uncovered_branches
        ]
        parts.append("Not run by any test yet; write tests that run these:\n" + "\n".join(
            f"- {item}" for item in todo[:24]))
    parts.append(RULES)
    return "\n\n".join(parts)


def _source_lines(task: TestTask) -> dict[int, str]:
    return {task.first_line + i: line for i, line in enumerate(task.source.splitlines())}


def render_test_prompt(tokenizer: Tokenizer, task: TestTask, path: str = "") -> Prompt:
    """The chat prompt's ids: system, the worked example, the task, the assistant's turn."""
    start, end = SPECIAL_TOKEN_IDS[IM_START], SPECIAL_TOKEN_IDS[IM_END]
    text = task_text(task)
    turns = [("system", SYSTEM), ("user", _EXAMPLE_TASK), ("assistant", _EXAMPLE_ANSWER),
             ("user", text)]
    ids: list[int] = []
    sections: dict[str, int] = {}
    for (role, content), section in zip(turns, ("system", "example", "example", "task"),
                                        strict=True):
        before = len(ids)
        ids += [start, *encode_text(tokenizer, f"{role}\n{content}"), end,
                *encode_text(tokenizer, "\n")]
        sections[section] = sections.get(section, 0) + len(ids) - before
    ids += [start, *encode_text(tokenizer, "assistant\n")]
    sections["control"] = 2
    return Prompt(tuple(ids), text, "", sections, (), path)


@dataclass(frozen=True)
class ParsedTest:
    """One test function from a model's answer, with the imports it needs."""

    name: str
    function: str
    """The function's source."""
    imports: tuple[str, ...]
    """Module-level import statements of the answer."""

    def module(self, import_line: str) -> str:
        """A test module of its own: the import of the code under test, imports, the test."""
        head = [import_line, *[i for i in self.imports if i != import_line]]
        return "\n".join(head) + "\n\n\n" + self.function.rstrip() + "\n"


_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def parse_tests(answer: str) -> list[ParsedTest]:
    """The runnable test functions of a model's answer, in order; never raises."""
    blocks = _FENCE.findall(answer)
    code = "\n".join(blocks) if blocks else answer
    tree = _parse_prefix(code)
    if tree is None:
        return []
    imports = tuple(
        ast.get_source_segment(code, node) or ""
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    )
    found: list[ParsedTest] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        if node.decorator_list or _required_parameters(node):
            continue
        source = ast.get_source_segment(code, node)
        if source:
            found.append(ParsedTest(node.name, source, tuple(i for i in imports if i)))
    return found


def _parse_prefix(code: str) -> ast.Module | None:
    """Parse `code`, dropping lines from the end until it parses (a truncated answer)."""
    lines = code.splitlines()
    for keep in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:keep]))
        except (SyntaxError, ValueError):
            continue
    return None


def _required_parameters(node: ast.FunctionDef) -> int:
    args = node.args
    positional = len(args.posonlyargs) + len(args.args) - len(args.defaults)
    keyword_only = sum(default is None for default in args.kw_defaults)
    return positional + keyword_only


def normalized(test: ParsedTest) -> str:
    """The test's body without its name and formatting, for spotting repeats."""
    return repeat_key(test.function)


def repeat_key(source: str) -> str:
    """What makes a test the test it is, for spotting repeats of it.

    Two tests are the same test when they run the same statements: the name, the docstring,
    the return annotation, comments and formatting do not count (the same body under another
    name is a repeat); decorators and parameters do (a parametrized test is another test).
    A module-level assert is keyed by its statement alone, so ``assert f(1) == 2`` and a test
    function whose whole body is that assert are the same test.
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return " ".join(source.split())
    body: list[ast.stmt] = tree.body
    parts: list[str] = []
    if len(body) == 1 and isinstance(body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        function = body[0]
        body = [s for s in function.body if not _is_docstring(s)]
        if function.decorator_list or _has_parameters(function.args):
            parts += [ast.dump(d) for d in function.decorator_list] + [ast.dump(function.args)]
        if isinstance(function, ast.AsyncFunctionDef):
            parts.append("async")
    parts += [ast.dump(statement) for statement in body]
    return "\n".join(parts)


def _has_parameters(args: ast.arguments) -> bool:
    return bool(args.posonlyargs or args.args or args.vararg or args.kwonlyargs or args.kwarg)


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and (
        isinstance(statement.value.value, str)
    )


def asserted_calls(source: str) -> list[tuple[str, str]]:
    """(call, expected) of each ``assert CALL == EXPECTED`` in a test, normalized."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    pairs = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
            continue
        compare = node.test
        if len(compare.ops) == 1 and isinstance(compare.ops[0], ast.Eq):
            pairs.append((ast.unparse(compare.left), ast.unparse(compare.comparators[0])))
    return pairs


def uncovered_summary(lines: Sequence[int], branches: Sequence[tuple[int, int]]) -> str:
    """A short human summary: ``lines 4, 7–9; branches 3→5``."""
    parts = []
    if lines:
        parts.append("lines " + _ranges(sorted(lines)))
    if branches:
        parts.append("branches " + ", ".join(
            f"{a}→{b if b > 0 else 'exit'}" for a, b in sorted(branches)))
    return "; ".join(parts) or "nothing"


def _ranges(numbers: Sequence[int]) -> str:
    out: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        out.append(str(start) if start == previous else f"{start}–{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(out)
