"""The tests a function already has: run as pytest would run them, and known when offered again.

pytest imports a whole test file before it runs one of its tests, so a test may use any name
the file binds at module level (``import pytest`` for ``pytest.raises``, a constant, a helper).
The sandbox runs each test in a module of its own; `file_setup` gives that module the part of
its file's module level the test needs: the imports, assignments, helper functions and
classes that bind a name the test uses, and what those use in turn, in file order. Other
tests, asserts, ``if __name__ == "__main__":`` blocks and bare expression statements (a
``sys.path`` tweak that means nothing in the sandbox) are left out.

`existing_keys` names the tests already written (`prompts.testgen.repeat_key`), so that a test
the model offers again, under whatever name, is never written a second time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence

from codegen.testgen.testfile import TestFile
from prompts.context import FunctionContext, TestCase
from prompts.testgen import repeat_key
from validators.sandbox import Sandbox
from validators.testrun import CandidateTest, ModuleUnderTest, TestOutcome, run_tests


def baseline(
    sandbox: Sandbox,
    module: ModuleUnderTest,
    context: FunctionContext,
    test_file: TestFile,
    files: Mapping[str, str],
) -> tuple[list[TestOutcome], list[int]]:
    """Run the docstring examples and the existing tests once; which examples failed.

    The examples run as ``test_example_<i>``, the tests as ``test_existing_<i>``, each with
    its own file's setup (`files` maps workspace paths to text).
    """
    head = f"from {module.import_name} import *\n{test_file.import_line}\n"
    candidates = []
    for index, example in enumerate(context.examples):
        candidates.append(_wrapped(f"test_example_{index}", head, example.to_assert()))
    for index, test in enumerate(context.tests):
        check = test.to_check()
        if check is None:
            continue
        setup = file_setup(files.get(test.path, ""), test.source)
        candidates.append(_wrapped(f"test_existing_{index}", head, check, setup))
    outcomes = run_tests(sandbox, module, candidates, runs=1)
    examples = len(context.examples)
    failing = [i for i, outcome in enumerate(outcomes[:examples]) if not outcome.passed]
    return outcomes, failing


def _wrapped(name: str, head: str, check: str, setup: tuple[str, str] = ("", "")) -> CandidateTest:
    """A test module running `check` inside ``def name():`` after the imports and setup."""
    future, statements = setup
    body = "\n".join("    " + line for line in check.splitlines())
    source = f"{future}{head}{statements}\n\ndef {name}():\n{body}\n"
    return CandidateTest(name, source)


def file_setup(text: str, test: str) -> tuple[str, str]:
    """The setup a test needs from its file's module level, as two blocks of source.

    The file's ``from __future__`` imports (they must come first in a module), then what
    binds the names the test with source `test` uses; both "" when the file does not parse.
    """
    try:
        tree = ast.parse(text)
        wanted = _names_used(ast.parse(test))
    except (SyntaxError, ValueError):
        return "", ""
    future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    candidates = [n for n in tree.body if _is_setup(n) and n not in future]
    kept: set[int] = set()
    changed = True
    while changed:  # a helper may need a constant, which may need an import: to a fixed point
        changed = False
        for index, node in enumerate(candidates):
            bound = _names_bound(node)
            if index in kept or not (bound & wanted or "*" in bound):
                continue
            kept.add(index)
            wanted |= _names_used(node)
            changed = True
    segments = [_segment(text, candidates[i]) for i in sorted(kept)]
    return "".join(_segment(text, n) + "\n" for n in future), "\n".join(segments) + (
        "\n" if segments else "")


def _is_setup(node: ast.stmt) -> bool:
    """Whether a module-level statement belongs to a test's setup (not a test, not `main`)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return not node.name.startswith("test")
    if isinstance(node, ast.ClassDef):
        return not node.name.startswith("Test")
    if isinstance(node, ast.If):
        return "__main__" not in ast.unparse(node.test)
    return not isinstance(node, ast.Expr | ast.Assert)


def _names_bound(node: ast.stmt) -> set[str]:
    """Module-level names a statement binds (``*`` for a star import)."""
    bound: set[str] = set()
    for child in _own_nodes(node):
        if isinstance(child, ast.Import):
            bound |= {(a.asname or a.name).split(".")[0] for a in child.names}
        elif isinstance(child, ast.ImportFrom):
            bound |= {a.asname or a.name for a in child.names}
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(child.name)
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            bound.add(child.id)
    return bound


def _own_nodes(node: ast.AST) -> Iterable[ast.AST]:
    """`node` and what it contains, without descending into function or class bodies."""
    yield node
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return
    for child in ast.iter_child_nodes(node):
        yield from _own_nodes(child)


def _names_used(node: ast.AST) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def _segment(text: str, node: ast.stmt) -> str:
    """A statement's source lines, its decorators included."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    lines = text.splitlines()[first - 1 : node.end_lineno or node.lineno]
    return "\n".join(lines)


def existing_keys(test_file_text: str, tests: Sequence[TestCase]) -> set[str]:
    """`repeat_key` of every test in the test file and of every known test of the function."""
    keys = {repeat_key(test.source) for test in tests}
    try:
        tree = ast.parse(test_file_text)
    except (SyntaxError, ValueError):
        return keys
    for node in tree.body:
        scope = node.body if isinstance(node, ast.ClassDef) else [node]
        for child in scope:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    child.name.startswith("test")):
                keys.add(repeat_key(_segment(test_file_text, child)))
    return keys
