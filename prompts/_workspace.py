"""Tests of a function already written in the workspace: `test_*` functions and asserts."""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

from prompts._model import TestCase
from prompts._source import calls, parse

MAX_FILE = 500_000
"""Longer files are not read for tests (characters)."""
MAX_TESTS = 24
"""Most tests returned for one function."""
MAX_TEST_SOURCE = 4_000
"""Longer test functions are left out: they would crowd the prompt."""
MAX_FILES = 2_000
"""Most files searched, test files first."""

_ASSERT_LINE = re.compile(r"[ \t]*assert\b")


def is_test_file(path: str) -> bool:
    """Whether pytest would collect `path`: `test_*.py` or `*_test.py`."""
    base = _base(path)
    return base.endswith(".py") and (base.startswith("test_") or base.endswith("_test.py"))


def _base(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def workspace_tests(name: str, files: Mapping[str, str], exclude_path: str = "") -> list[TestCase]:
    """Tests that call `name` in `files` (path -> text), test files first.

    `name` is the function's name, or `Class.method` for a method (matched as `x.method(...)`).
    In test files: `test_*` functions (also in `Test*` classes) and asserts outside them; in
    other files: module-level asserts, such as those under `if __name__ == "__main__":`.
    A file that defines its own `name`, or imports it from a module other than the one at
    `exclude_path` (the document being edited), tests another function of that name.
    """
    module = _module_name(exclude_path)
    paths = [p for p in files if p != exclude_path and p.endswith(".py")]
    paths = [p for p in paths if _base(p) != "conftest.py"]
    paths.sort(key=lambda p: not is_test_file(p))  # stable: keeps the caller's order within
    found: list[TestCase] = []
    for path in paths[:MAX_FILES]:
        found += file_tests(path, files[path], name, module=module)
        if len(found) >= MAX_TESTS:
            break
    return unique_tests(found)


def file_tests(
    path: str,
    text: str,
    name: str,
    skip: tuple[int, int] | None = None,
    module: str | None = None,
    tree: ast.Module | None = None,
) -> list[TestCase]:
    """Tests of `name` in one file; statements starting on lines in `skip` are ignored.

    With `module` (the name of the function's own module) the file must not bring in a
    different `name`. `tree` is the file's parse when the caller has it already.
    """
    target = name.rsplit(".", 1)[-1]
    if len(text) > MAX_FILE or not re.search(rf"\b{re.escape(target)}\s*\(", text):
        return []
    parsed = tree or parse(text)
    if not isinstance(parsed, ast.Module):
        return _assert_lines(path, text, name, skip)
    tree = parsed
    if module and "." not in name and _other_function(tree, target, module):
        return []
    scan = _Scan(path, text.split("\n"), name, is_test_file(path), skip)
    _visit(tree.body, scan, None, False)
    return scan.found


def _module_name(path: str) -> str:
    base = _base(path)
    return base.removesuffix(".py") if base.endswith(".py") else ""


def _other_function(tree: ast.Module, target: str, module: str) -> bool:
    """Whether the file defines `target` itself or imports it from a module not `module`."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == target:
            return True
        if isinstance(node, ast.ImportFrom) and node.module:
            imported = any((a.asname or a.name) == target for a in node.names)
            if imported and node.module.rsplit(".", 1)[-1] != module:
                return True
    return False


@dataclass
class _Scan:
    """What `_visit` needs about the file it walks, and where it puts what it finds."""

    path: str
    lines: list[str]
    name: str
    test_file: bool
    skip: tuple[int, int] | None
    found: list[TestCase] = field(default_factory=list)

    def skipped(self, node: ast.stmt) -> bool:
        return self.skip is not None and self.skip[0] <= node.lineno <= self.skip[1]

    def source(self, node: ast.stmt, first: int) -> str:
        return textwrap.dedent("\n".join(self.lines[first - 1 : node.end_lineno or node.lineno]))


def _visit(body: list[ast.stmt], scan: _Scan, owner: str | None, in_def: bool) -> None:
    for node in body:
        if scan.skipped(node):
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            test_owner = owner is None or owner.startswith("Test")
            if scan.test_file and node.name.startswith("test") and test_owner:
                if calls(node, scan.name):
                    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    source = scan.source(node, first)
                    qualname = f"{owner}.{node.name}" if owner else node.name
                    if len(source) <= MAX_TEST_SOURCE:
                        scan.found.append(TestCase(source, scan.path, first, qualname))
            elif scan.test_file:
                _visit(node.body, scan, None, True)  # asserts in a helper of a test file
        elif isinstance(node, ast.ClassDef):
            _visit(node.body, scan, node.name, in_def)
        elif isinstance(node, ast.Assert):
            if (scan.test_file or not in_def) and calls(node.test, scan.name):
                scan.found.append(TestCase(scan.source(node, node.lineno), scan.path, node.lineno))
        else:
            for field in ("body", "orelse", "finalbody"):
                _visit(getattr(node, field, []), scan, owner, in_def)
            for handler in getattr(node, "handlers", []):
                _visit(handler.body, scan, owner, in_def)


def _assert_lines(path: str, text: str, name: str, skip: tuple[int, int] | None) -> list[TestCase]:
    """Asserts in a file that does not parse, read one statement at a time."""
    lines = text.split("\n")
    found: list[TestCase] = []
    for row, line in enumerate(lines):
        if not _ASSERT_LINE.match(line) or (skip and skip[0] <= row + 1 <= skip[1]):
            continue
        for extra in range(10):  # a statement may continue over a few lines
            source = textwrap.dedent("\n".join(lines[row : row + extra + 1]))
            tree = parse(source)
            if isinstance(tree, ast.Module):
                if len(tree.body) == 1 and isinstance(tree.body[0], ast.Assert):
                    if calls(tree.body[0].test, name):
                        found.append(TestCase(source, path, row + 1))
                break
    return found


def unique_tests(tests: list[TestCase]) -> list[TestCase]:
    """`tests` without repeats of the same source, at most `MAX_TESTS`."""
    seen: set[str] = set()
    kept: list[TestCase] = []
    for test in tests:
        key = " ".join(test.source.split())
        if key not in seen:
            seen.add(key)
            kept.append(test)
    return kept[:MAX_TESTS]
