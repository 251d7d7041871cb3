"""The workspace modules a document imports, to copy into the sandbox beside it.

A document's tests (its doctests, the workspace tests that call it) and generated unit tests
run in the sandbox, where only what is copied in exists; a module that imports its own
package (`from pkg.util import double`) needs those files too.
"""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

from prompts.index import module_of

MAX_IMPORTED_FILES = 200
"""Most workspace modules copied into the sandbox for one module's imports."""
MAX_IMPORTED_BYTES = 4 * 1024 * 1024


def workspace_imports(root: str, module_path: str, text: str) -> dict[str, str]:
    """The workspace modules `text` imports, directly or not, at their import paths.

    Also the ``__init__.py`` of every package on the way, the module's own included; a
    ``src/`` layout's modules are found under ``src``. Bounded in count and size.
    """
    if not root:
        return {}
    bases = [Path(root), Path(root) / "src"]
    found: dict[str, str] = {}
    name = module_of(module_path)
    queue = [(name, text, _is_package(module_path))]
    seen = {name}
    size = 0
    while queue and len(found) < MAX_IMPORTED_FILES and size < MAX_IMPORTED_BYTES:
        current, source, is_package = queue.pop(0)
        packages = _prefixes(current)[:-1]
        if is_package:
            packages.append(current)
        for package in packages:
            for relative, content in _read_module(bases, package, package=True):
                if relative not in found:
                    found[relative] = content
                    size += len(content)
                    if package not in seen:
                        seen.add(package)
                        queue.append((package, content, True))
        for imported in _imported_names(source, current, is_package):
            for candidate in (imported, imported.rsplit(".", 1)[0]):
                if not candidate or candidate in seen:
                    continue
                seen.add(candidate)
                for relative, content in _read_module(bases, candidate, package=False):
                    if relative not in found:
                        found[relative] = content
                        size += len(content)
                        queue.append((candidate, content, relative.endswith("__init__.py")))
    found.pop(name.replace(".", "/") + ".py", None)  # the module itself comes from the editor
    return found


def _is_package(path: str) -> bool:
    return PurePosixPath(path).name == "__init__.py"


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imported_names(source: str, current: str, is_package: bool) -> list[str]:
    """Absolute names of what `source` (module `current`) imports, `from a import b` as a.b."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    package = current if is_package else current.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                anchor = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                base = ".".join([*anchor, base] if base else anchor)
            names += [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    return names


def _read_module(bases: list[Path], dotted: str, *, package: bool) -> list[tuple[str, str]]:
    """(import path, text) of the module or package `dotted`, found under the first base."""
    relative = PurePosixPath(*dotted.split("."))
    choices = [relative / "__init__.py"] if package else [relative.with_suffix(".py"),
                                                          relative / "__init__.py"]
    for base in bases:
        for choice in choices:
            path = base / choice
            try:
                if path.is_file() and path.stat().st_size <= MAX_IMPORTED_BYTES:
                    return [(str(choice), path.read_text(encoding="utf-8"))]
            except (OSError, UnicodeDecodeError):
                continue
    return []
