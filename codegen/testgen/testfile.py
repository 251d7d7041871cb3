"""Where generated tests go and how they import the code: the project's own conventions.

For a module ``pkg/util.py`` of a workspace, the test file is the one the project already
has for it (``test_util.py`` or ``util_test.py`` anywhere in the workspace, preferring one
that imports the module), else a new ``test_util.py`` in the project's test folder
(``tests/`` or ``test/``, mirroring the package folders when the existing tests do), else
beside the module. The import line follows an existing test of the module when there is
one (``from pkg.util import f``, ``from util import f``, ``import pkg.util as u``), else the
module's dotted path from the workspace root (a ``src/`` layout's ``src`` left out).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from prompts.index import module_of

TEST_DIRS = ("tests", "test")


@dataclass(frozen=True)
class TestFile:
    """The chosen test file and how its tests reach the function."""

    __test__ = False  # not a pytest test class

    path: str
    """Path relative to the workspace root."""
    exists: bool
    text: str
    """Its current text ("" for a new file)."""
    import_line: str
    """The statement that makes `reference` usable in a test."""
    reference: str
    """How a test names the function: `clamp`, `util.clamp`, `Stack` (for `Stack.push`)."""


def choose_test_file(
    module_path: str, qualname: str, files: Mapping[str, str], directories: frozenset[str]
) -> TestFile:
    """Pick the test file for `qualname` of `module_path` among the workspace `files`.

    `files` maps relative paths of the workspace's test files to their text; `directories`
    holds the workspace's top-level folder names.
    """
    stem = PurePosixPath(module_path).stem
    dotted = module_of(module_path)
    top = qualname.split(".", 1)[0]
    names = {f"test_{stem}.py", f"{stem}_test.py"}
    matches = sorted(p for p in files if PurePosixPath(p).name in names)
    importing = [p for p in matches if _imports_module(files[p], dotted, stem)]
    chosen = importing[0] if importing else matches[0] if matches else None
    style = next((p for p in sorted(files) if _imports_module(files[p], dotted, stem)), None)
    import_line, reference = _import_for(files[style] if style else "", dotted, stem, top)
    if chosen is not None:
        return TestFile(chosen, True, files[chosen], import_line, reference)
    return TestFile(_new_path(module_path, files, directories), False, "", import_line, reference)


def _new_path(module_path: str, files: Mapping[str, str], directories: frozenset[str]) -> str:
    module = PurePosixPath(module_path)
    name = f"test_{module.stem}.py"
    folder = next((d for d in TEST_DIRS if d in directories), None)
    if folder is None:
        return str(module.with_name(name))
    package = [p for p in module.parent.parts if p != "src"]
    mirrored = PurePosixPath(folder, *package)
    if package and any(PurePosixPath(p).parent == mirrored for p in files):
        return str(mirrored / name)
    return str(PurePosixPath(folder) / name)


def _imports_module(text: str, dotted: str, stem: str) -> bool:
    return any(_matches(module, dotted, stem) for module, _ in _imports(text))


def _matches(module: str, dotted: str, stem: str) -> bool:
    return module == dotted or module == stem or (bool(dotted) and module.endswith("." + stem)
                                                  and dotted.endswith(module))


def _imports(text: str) -> list[tuple[str, ast.stmt]]:
    """(module, statement) of each top-level import of a test file's text."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    found: list[tuple[str, ast.stmt]] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, node))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
    return found


def _import_for(text: str, dotted: str, stem: str, top: str) -> tuple[str, str]:
    """The import line and the reference to `top`, in the style of an existing test."""
    for module, node in _imports(text):
        if not _matches(module, dotted, stem):
            continue
        if isinstance(node, ast.ImportFrom):
            return f"from {module} import {top}", top
        assert isinstance(node, ast.Import)
        alias = next(a for a in node.names if a.name == module)
        if alias.asname:
            return f"import {module} as {alias.asname}", f"{alias.asname}.{top}"
        return f"import {module}", f"{module}.{top}"
    return f"from {dotted} import {top}", top


_TEST_NAME = re.compile(r"^(?:async\s+)?def\s+(test_\w+)", re.MULTILINE)


def existing_test_names(text: str) -> set[str]:
    """Names of the test functions a file already defines."""
    return set(_TEST_NAME.findall(text))


def top_directories(root: str) -> frozenset[str]:
    """Names of the workspace's top-level folders."""
    try:
        return frozenset(entry.name for entry in Path(root).iterdir() if entry.is_dir())
    except OSError:
        return frozenset()
