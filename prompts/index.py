"""What each file of a workspace defines and imports, for the prompt's repo context.

`outline` reads one file with tree-sitter (so a file being edited, not yet parseable, still
yields its definitions). For Python: top-level functions and classes and the methods of
those classes, each with its signature and the first line of its docstring, and the
modules it imports. For JS/TS, Go, Rust, Java and C/C++: functions, classes, interfaces,
structs, types and top-level constants, as stubs, and the files they import
(`prompts._outline`, `prompts._imports`). `WorkspaceIndex` holds the outlines of a
workspace, kept current by the file watcher (`codegen.watch`) and by edits of open
documents, and answers what the prompt needs: where a name is defined, which file a
module is, which files changed last. A prompt only gets files of its own language family
(`family`: TypeScript with JavaScript, C with C++).
"""

from __future__ import annotations

import builtins
import keyword
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath

import tree_sitter

from prompts._imports import imported_files, package_files
from prompts._outline import Definition, FileOutline, code_outline, family, outlined
from prompts._parse import parse_python, python_parser
from prompts.languages import PYTHON, Language, language_for

__all__ = [
    "Definition", "FileOutline", "WorkspaceIndex", "family", "indexable", "module_of",
    "outline", "related_files",
]

MAX_FILE_BYTES = 1024 * 1024
"""Larger files are not indexed (generated code, data in a .py file)."""


def indexable(path: str) -> bool:
    """Whether the index outlines files with `path`'s extension."""
    language = language_for(None, path)
    return language is PYTHON or outlined(language)


def outline(
    path: str, text: str, *, incremental: bool = False, language: Language | None = None
) -> FileOutline:
    """Read a file's definitions and imports; never raises on broken code.

    `language`: when the path does not tell (an untitled document); else by extension.
    `incremental`: parse from a recent tree of a nearly equal text (the document being
    edited, which the syntax validator parses too), not from scratch.
    """
    language = language or language_for(None, path)
    if language is not PYTHON:
        return code_outline(path, text, language)
    data = text.encode("utf-8", "surrogatepass")
    try:
        tree = parse_python(text) if incremental else python_parser().parse(data)
    except UnicodeEncodeError:  # a lone surrogate: parse what the bytes say
        tree = python_parser().parse(data)
    definitions: list[Definition] = []
    imports: list[str] = []
    for node in tree.root_node.children:
        _collect(node, data, "", definitions)
        if node.type in ("import_statement", "import_from_statement"):
            imports += _imports(node, data)
    return FileOutline(path, tuple(definitions), tuple(dict.fromkeys(imports)), len(data))


def _collect(node: tree_sitter.Node, data: bytes, owner: str, out: list[Definition]) -> None:
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        if inner is not None:
            _collect(inner, data, owner, out)
        return
    if node.type not in ("function_definition", "class_definition"):
        return
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None:
        return
    name = _text(name_node, data)
    qualname = f"{owner}.{name}" if owner else name
    header_end = body.start_byte if body is not None else node.end_byte
    signature = " ".join(_decode(data[node.start_byte : header_end]).split()).rstrip()
    kind = "class" if node.type == "class_definition" else "function"
    out.append(Definition(name, qualname, kind, node.start_point.row + 1, signature,
                          _docstring(body, data)))
    if kind == "class" and body is not None and not owner:
        for child in body.children:
            _collect(child, data, qualname, out)


def _docstring(body: tree_sitter.Node | None, data: bytes) -> str:
    if body is None or not body.children:
        return ""
    first = body.children[0]
    if first.type == "expression_statement" and first.children and (
        first.children[0].type == "string"
    ):
        raw = _text(first.children[0], data).strip("rbuRBU").strip("\"'")
        return raw.strip().splitlines()[0].strip() if raw.strip() else ""
    return ""


def _imports(node: tree_sitter.Node, data: bytes) -> list[str]:
    if node.type == "import_statement":
        return [_text(n.child_by_field_name("name") or n, data)
                for n in node.children_by_field_name("name")]
    module = node.child_by_field_name("module_name")
    base = _text(module, data) if module is not None else ""
    names = [_text(n.child_by_field_name("name") or n, data)
             for n in node.children_by_field_name("name")]
    return [base, *(f"{base}.{n}" if base and not base.endswith(".") else base + n
                    for n in names)]


def _text(node: tree_sitter.Node, data: bytes) -> str:
    return _decode(data[node.start_byte : node.end_byte])


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def module_of(path: str) -> str:
    """The dotted module of a workspace-relative file (``src/`` and ``__init__`` handled)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


class WorkspaceIndex:
    """Outlines of every indexed file, by path; thread-safe, cheap to read."""

    def __init__(self) -> None:
        """An empty index."""
        self._files: dict[str, FileOutline] = {}
        self._seq: dict[str, int] = {}
        """Order of first indexing, the order `definitions` reports files in."""
        self._next_seq = 0
        self._changed: OrderedDict[str, None] = OrderedDict()
        """Files changed since the index was built, the last changed last."""
        self._by_module: dict[str, str] = {}
        self._by_name: dict[str, set[str]] = {}
        """Files with a top-level definition of each name."""
        self._lock = threading.Lock()
        self.version = 0
        """Bumped on every change (tests wait on it)."""
        self.text_of: Callable[[str], str | None] | None = None
        """Reads a file's current text (the watcher sets it), for small imported files."""

    def update(self, path: str, text: str, *, changed: bool = True) -> None:
        """Index (or re-index) one file from its text; `changed` False while first scanning.

        A file the index cannot outline (not `indexable`: a README, a language without
        queries) is left out.
        """
        if not indexable(path):
            return
        found = outline(path, text)
        with self._lock:
            self._forget_names(path)
            self._files[path] = found
            if path not in self._seq:
                self._seq[path] = self._next_seq
                self._next_seq += 1
            for name in _top_level_names(found):
                self._by_name.setdefault(name, set()).add(path)
            if changed:
                self._changed[path] = None
                self._changed.move_to_end(path)
            if path.endswith((".py", ".pyi", ".pyw")):
                self._by_module[module_of(path)] = path
            self.version += 1

    def remove(self, path: str) -> None:
        """Forget a deleted file (or every file under a deleted folder)."""
        with self._lock:
            gone = [p for p in self._files if p == path or p.startswith(path.rstrip("/") + "/")]
            for item in gone:
                self._forget_names(item)
                del self._files[item]
                del self._seq[item]
                self._changed.pop(item, None)
                if self._by_module.get(module_of(item)) == item:
                    del self._by_module[module_of(item)]
            self.version += 1

    def _forget_names(self, path: str) -> None:
        """Drop a file's names from the name lookup (the lock is held)."""
        old = self._files.get(path)
        if old is None:
            return
        for name in _top_level_names(old):
            paths = self._by_name.get(name)
            if paths is not None:
                paths.discard(path)
                if not paths:
                    del self._by_name[name]

    def get(self, path: str) -> FileOutline | None:
        """The outline of one file."""
        with self._lock:
            return self._files.get(path)

    def __len__(self) -> int:
        """How many files are indexed."""
        with self._lock:
            return len(self._files)

    @property
    def paths(self) -> list[str]:
        """Every indexed file."""
        with self._lock:
            return sorted(self._files)

    def file_of_module(self, module: str) -> str | None:
        """The workspace file a dotted module name is, if indexed."""
        with self._lock:
            return self._by_module.get(module)

    def definitions(
        self, names: Iterable[str], exclude: str = "", kin: str | None = None
    ) -> list[tuple[str, str]]:
        """(path, name) of the top-level definitions of `names`, outside `exclude`.

        `kin`: only in files of this language `family`.
        """
        wanted = set(names)
        with self._lock:
            paths = {p for name in wanted for p in self._by_name.get(name, ())
                     if kin is None or _family_of(p) == kin}
            paths.discard(exclude)
            files = [self._files[p] for p in sorted(paths, key=self._seq.__getitem__)]
        return [(file.path, name) for file in files for name in _top_level_names(file)
                if name in wanted]

    def recent(
        self, count: int, exclude: Sequence[str] = (), kin: str | None = None
    ) -> list[str]:
        """The files changed last, most recent first (`kin`: of this language `family`)."""
        found: list[str] = []
        with self._lock:
            for path in reversed(self._changed):
                if len(found) == count:
                    break
                if path not in exclude and (kin is None or _family_of(path) == kin):
                    found.append(path)
        return found


def _family_of(path: str) -> str:
    return family(language_for(None, path))


def _top_level_names(file: FileOutline) -> list[str]:
    """Names of a file's top-level definitions, in file order."""
    return [d.name for d in file.definitions if "." not in d.qualname]


_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_NOT_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "cls"}
NEAR_LINES = 40
"""Lines before the cursor (and a few after) whose names are looked up in the index."""
SMALL_FILE = 4000
"""An imported file up to this many characters goes in whole; larger ones as stubs."""


def related_files(
    index: WorkspaceIndex,
    path: str,
    text: str,
    offset: int,
    recent: int = 3,
    language: Language | None = None,
) -> list[tuple[str, str]]:
    """(path, text) of other files for the prompt, least relevant first.

    In order of relevance, the last most relevant: files changed recently (as stubs), the
    other files of a Go or Java package (stubs), the files the current file imports (whole
    when small, else stubs), and the definitions of the names used near the cursor (stubs).
    A file appears once, at its most relevant place. Only files of the current file's
    language `family` are offered; `language` is the document's, else its extension's.
    """
    language = language or language_for(None, path)
    kin = family(language)
    current = outline(path, text, incremental=True, language=language)
    defined = {d.name for d in current.definitions}
    line = text.count("\n", 0, offset)
    lines = text.splitlines()
    window = "\n".join(lines[max(0, line - NEAR_LINES) : line + 5])
    names = [n for n in dict.fromkeys(_IDENTIFIER.findall(window))
             if n not in _NOT_NAMES and n not in defined]
    picked: dict[str, str] = {}
    whole: set[str] = set()
    for other in index.recent(recent, exclude=[path], kin=kin):
        found = index.get(other)
        if found is not None and found.definitions:
            picked[other] = found.render()
    package = package_files(language, path, index.paths) if language.id in ("go", "java") else []
    for other in package:
        found = index.get(other)
        if found is not None and found.definitions:
            picked.pop(other, None)
            picked[other] = found.render()
    for target in _imported(index, language, path, current.imports):
        found = index.get(target)
        if found is None or target == path:
            continue
        picked.pop(found.path, None)
        small = _whole_text(index, found)
        if small is not None:
            whole.add(found.path)
        picked[found.path] = found.render() if small is None else small
    by_file: dict[str, list[str]] = {}
    for other, name in index.definitions(names, exclude=path, kin=kin):
        by_file.setdefault(other, []).append(name)
    for other, wanted in by_file.items():
        found = index.get(other)
        if found is not None:
            shown = picked.pop(other, None)
            # An imported file shown whole stays whole; its place moves nearer the cursor.
            picked[other] = shown if other in whole and shown else found.render(wanted)
    return [(p, t) for p, t in picked.items() if t.strip()]


def _imported(
    index: WorkspaceIndex, language: Language, path: str, imports: Sequence[str]
) -> list[str]:
    """The indexed files `imports` name, in import order."""
    if language is not PYTHON:
        return imported_files(language, path, imports, lambda: index.paths)
    targets = (_resolve(index, module, path) for module in imports)
    return list(dict.fromkeys(t for t in targets if t is not None))


def _resolve(index: WorkspaceIndex, module: str, path: str) -> str | None:
    """The indexed file of an imported module (relative imports resolved from `path`)."""
    if module.startswith("."):
        level = len(module) - len(module.lstrip("."))
        package = module_of(path).split(".")
        if not PurePosixPath(path).name == "__init__.py":
            package = package[:-1]
        base = package[: len(package) - level + 1] if level > 1 else package
        module = ".".join([*base, module.lstrip(".")]).strip(".")
    while module:
        found = index.file_of_module(module)
        if found is not None:
            return found
        module = module.rpartition(".")[0]
    return None


def _whole_text(index: WorkspaceIndex, found: FileOutline) -> str | None:
    """A small file's text, None for a large one (or one that cannot be read)."""
    if found.size <= SMALL_FILE and index.text_of is not None:
        return index.text_of(found.path)
    return None
