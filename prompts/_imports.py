"""Which workspace files a non-Python file's imports name, where that is simple to tell.

JS/TS: relative specifiers (``./util``, ``../lib/x.js``), tried with each extension and as
a folder's ``index``. Go: the other files of the package (the same folder) and imports
whose path ends with a workspace folder. Rust: ``mod x;`` and ``use crate::``/``super::``/
``self::`` paths, from the crate's ``src``. C/C++: ``#include "..."`` beside the file, else
any workspace file with that path ending. Java: ``import a.b.C`` as a file ending
``a/b/C.java``, and the other files of the package. Anything else (a package from
node_modules, the standard library) names no workspace file.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence

from prompts.languages import Language

_JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")


def imported_files(
    language: Language,
    path: str,
    imports: Sequence[str],
    paths: Callable[[], Sequence[str]],
) -> list[str]:
    """Workspace files `path`'s `imports` name, in import order; `paths` lists the indexed.

    Only candidates in `paths()` are returned; `path` itself never is.
    """
    known = set(paths())
    found: list[str] = []
    for spec in imports:
        for candidate in _candidates(language, path, spec, known):
            if candidate in known and candidate != path and candidate not in found:
                found.append(candidate)
                break
    return found


def package_files(language: Language, path: str, paths: Sequence[str]) -> list[str]:
    """Go and Java: the other files of `path`'s package (its folder; Go tests only for tests)."""
    if language.id not in ("go", "java"):
        return []
    folder, extension = posixpath.dirname(path), posixpath.splitext(path)[1]
    test = path.endswith("_test.go")
    return [
        p for p in paths
        if p != path and posixpath.dirname(p) == folder and p.endswith(extension)
        and (test or not p.endswith("_test.go"))
    ]


def _candidates(language: Language, path: str, spec: str, known: set[str]) -> list[str]:
    folder = posixpath.dirname(path)
    if language.id in ("javascript", "typescript", "typescriptreact"):
        return _javascript(folder, spec)
    if language.id == "go":
        return _by_folder(spec, known)
    if language.id == "rust":
        return _rust(path, spec)
    if language.id in ("c", "cpp"):
        beside = posixpath.normpath(posixpath.join(folder, spec))
        return [beside, *sorted((p for p in known if p.endswith("/" + spec)), key=len)]
    if language.id == "java":
        ending = spec.replace(".", "/") + ".java"
        return sorted((p for p in known if p == ending or p.endswith("/" + ending)), key=len)
    return []


def _javascript(folder: str, spec: str) -> list[str]:
    if not spec.startswith((".", "/")):
        return []  # a package, not a workspace file
    base = posixpath.normpath(posixpath.join(folder, spec)).lstrip("/")
    stem, extension = posixpath.splitext(base)
    bases = [base]
    if extension in (".js", ".jsx", ".mjs", ".cjs"):
        bases.append(stem)  # TypeScript imports ./x.js meaning ./x.ts
    found = []
    for each in bases:
        found += [each, *(each + e for e in _JS_EXTENSIONS)]
        found += [f"{each}/index{e}" for e in _JS_EXTENSIONS]
    return found


def _by_folder(import_path: str, known: set[str]) -> list[str]:
    """Go: the first file, by name, of a workspace folder the import path ends with."""
    parts = import_path.split("/")
    for start in range(len(parts)):
        folder = "/".join(parts[start:])
        files = sorted(
            p for p in known
            if posixpath.dirname(p) == folder and p.endswith(".go")
            and not p.endswith("_test.go")
        )
        if files:
            return files
    return []


def _rust(path: str, spec: str) -> list[str]:
    folder = posixpath.dirname(path)
    name = posixpath.basename(path)
    # A module's children live in a folder named after it, unless it is a crate root or mod.rs.
    own = folder if name in ("main.rs", "lib.rs", "mod.rs") else posixpath.splitext(path)[0]
    parts = spec.split("{")[0].strip(":").split("::")
    if len(parts) == 1 and parts[0].isidentifier():  # `mod x;`
        return [f"{own}/{parts[0]}.rs", f"{own}/{parts[0]}/mod.rs"]
    head, rest = parts[0], [p for p in parts[1:] if p.isidentifier()]
    if head == "crate":
        base = _crate_root(folder)
    elif head == "self":
        base = own
    elif head == "super":
        base = folder if name not in ("mod.rs",) else posixpath.dirname(folder)
    else:
        return []  # another crate
    found = []
    for count in range(len(rest), 0, -1):  # the longest module path that is a file
        module = "/".join(filter(None, [base, *rest[:count]]))
        found += [f"{module}.rs", f"{module}/mod.rs"]
    return found


def _crate_root(folder: str) -> str:
    """The ``src`` folder holding `folder`, else `folder`."""
    parts = folder.split("/") if folder else []
    if "src" in parts:
        return "/".join(parts[: len(parts) - parts[::-1].index("src")])
    return folder
