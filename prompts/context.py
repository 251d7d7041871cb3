"""What the user's code already says about the function being completed.

Pure functions over source text, no file-system access: the function around the cursor
(`find_function`), the examples its docstring gives (`docstring_examples`: doctests and the
prose forms HumanEval and MBPP use), the tests the workspace has for it (`workspace_tests`),
all of it at once (`function_context`), the tests from other files to show the model
(`prompt_test_sections`), and the checks a sandbox can run after a candidate program
(`render_checks`). Nothing here raises on odd input; sizes are capped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import overload

from prompts._doctests import doctest_examples
from prompts._informal import informal_examples
from prompts._locate import find_function, locate
from prompts._model import Check, Example, ExampleKind, FunctionContext, TestCase
from prompts._source import (
    BUILTIN_NAMES,
    STDLIB_MODULES,
    attribute_bases,
    free_names,
    parse,
    unparse,
)
from prompts._workspace import file_tests, unique_tests, workspace_tests

__all__ = [
    "Check",
    "Example",
    "ExampleKind",
    "FunctionContext",
    "TestCase",
    "docstring_examples",
    "find_function",
    "function_context",
    "render_checks",
    "prompt_test_sections",
    "workspace_tests",
]

MAX_DOCSTRING = 64_000
"""Longer docstrings are read up to this many characters."""
MAX_EXAMPLES = 64
"""Most examples kept for one function."""
MAX_PROMPT_TESTS = 16
"""Most tests from other files put into one prompt (the prompt's budget may cut more)."""

_NO_FILES: Mapping[str, str] = MappingProxyType({})


def docstring_examples(
    docstring: str,
    name: str,
    *,
    params: Sequence[str] = (),
    first_line: int = 1,
    path: str = "",
) -> list[Example]:
    """Examples of calls to `name` in `docstring`: doctests first, then prose forms.

    `name` is `Class.method` for a method. `params` (positional parameter names) lets
    `Input: x = 1` forms become calls; `first_line` is the file line of the docstring's first
    line, so examples carry file lines.
    """
    if not docstring or not name:
        return []
    text = docstring[:MAX_DOCSTRING]
    found = doctest_examples(text, name, first_line=first_line, path=path)
    found += informal_examples(text, name, params=params, first_line=first_line, path=path)
    seen: set[tuple[object, ...]] = set()
    kept: list[Example] = []
    for example in found:
        expected = normal_source(example.expected)
        key = (normal_source(example.call), expected, example.raises, example.output, example.setup)
        if key not in seen:
            seen.add(key)
            kept.append(example)
    return kept[:MAX_EXAMPLES]


def function_context(
    text: str, offset: int, files: Mapping[str, str] = _NO_FILES, path: str = ""
) -> FunctionContext | None:
    """The function around the cursor with its docstring examples and its tests.

    `files` maps workspace paths to their text (open documents, test files); the entry for
    `path` is ignored in favour of `text`, whose own tests outside the function come first.
    """
    found, tree = locate(text, offset)
    if found is None:
        return None
    name = f"{found.class_name}.{found.name}" if found.class_name else found.name
    examples = docstring_examples(
        found.docstring or "",
        name,
        params=found.params,
        first_line=found.docstring_line,
        path=path,
    )
    own = file_tests(path, text, name, skip=(found.start_line, found.end_line), tree=tree)
    tests = unique_tests(own + workspace_tests(name, files, exclude_path=path))
    return replace(found, examples=tuple(examples), tests=tuple(tests))


def prompt_test_sections(
    text: str, offset: int, files: Mapping[str, str], path: str = ""
) -> list[tuple[str, str]]:
    """(path, text) of the tests in other files that call the function at the cursor.

    The model sees how the function is meant to behave before it writes the body: each
    file's tests, in file order, as that file's section of the prompt. Tests in the
    document itself are already in the prompt and are left out; so is everything when the
    cursor is in no function or the function has no tests.
    """
    if not files:
        return []
    context = function_context(text, offset, files, path)
    if context is None:
        return []
    by_file: dict[str, list[TestCase]] = {}
    for test in context.tests[:MAX_PROMPT_TESTS]:
        if test.path != path:
            by_file.setdefault(test.path, []).append(test)
    return [
        (file, "\n\n".join(t.source for t in sorted(tests, key=lambda t: t.line)) + "\n")
        for file, tests in by_file.items()
    ]


def render_checks(context: FunctionContext) -> tuple[Check, ...]:
    """Checks to run after a candidate program, one per example or test that can run alone.

    Each check is Python to execute in the program's namespace; it passes when it raises
    nothing. Left out: tests that need pytest (fixtures, marks, `self`) and anything naming
    what neither the document nor the builtins define. Standard modules a check uses as
    `math.isclose` are imported by the check itself.
    """
    known = BUILTIN_NAMES | context.defined
    checks: list[Check] = []
    seen: set[str] = set()
    origins: list[Example | TestCase] = [*context.examples, *context.tests]
    for origin in origins:
        source = origin.to_assert() if isinstance(origin, Example) else origin.to_check()
        tree = parse(source) if source else None
        if source is None or tree is None:
            continue
        missing = free_names(tree) - known
        modules = missing & STDLIB_MODULES & attribute_bases(tree)
        if missing - modules or source in seen:
            continue
        seen.add(source)
        imports = [f"import {module}" for module in sorted(modules)]
        checks.append(Check("\n".join([*imports, source]), origin))
    return tuple(checks)


@overload
def normal_source(source: str) -> str: ...
@overload
def normal_source(source: None) -> None: ...
def normal_source(source: str | None) -> str | None:
    """Source with formatting differences removed, for spotting repeats."""
    if source is None:
        return None
    tree = parse(source, "eval")
    text = unparse(tree) if tree is not None else None
    return text or " ".join(source.split())
