"""What each Python file of a workspace defines and imports, for the prompt's repo context.

`outline` reads one file with tree-sitter (so a file being edited, not yet parseable, still
yields its definitions): top-level functions and classes and the methods of those classes,
each with its signature and the first line of its docstring, and the modules it imports.
`WorkspaceIndex` holds the outlines of a workspace, kept current by the file watcher
(`codegen.watch`) and by edits of open documents, and answers what the prompt needs:
where a name is defined, which file a module is, which files changed last.
"""

from __future__ import annotations

import builtins
import keyword
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import tree_sitter

from prompts._parse import parse_python, python_parser

MAX_FILE_BYTES = 1024 * 1024
"""Larger files are not indexed (generated code, data in a .py file)."""


@dataclass(frozen=True)
class Definition:
    """A function or class a file defines."""

    name: str
    qualname: str
    """``Class.method`` for a method."""
    kind: str
    """"function" or "class"."""
    line: int
    """1-based line of the ``def``/``class``."""
    signature: str
    """The header up to its colon (``def f(x: int) -> str:``), without decorators."""
    doc: str = ""
    """First line of the docstring."""

    def render(self, indent: str = "") -> str:
        """The definition as a stub: its header, its docstring line, ``...``."""
        body = f'{indent}    """{self.doc}"""\n' if self.doc else ""
        return f"{indent}{self.signature}\n{body}{indent}    ...\n"


@dataclass(frozen=True)
class FileOutline:
    """One file's definitions and imports."""

    path: str
    """Relative to the workspace root."""
    definitions: tuple[Definition, ...]
    imports: tuple[str, ...]
    """Dotted modules it imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    size: int

    def render(self, names: Iterable[str] | None = None) -> str:
        """Stubs of the definitions (only those named in `names`, and their classes)."""
        wanted = set(names) if names is not None else None
        parts = []
        for definition in self.definitions:
            owner = definition.qualname.split(".")[0]
            if wanted is not None and definition.name not in wanted and owner not in wanted:
                continue
            indent = "    " if "." in definition.qualname else ""
            parts.append(definition.render(indent))
        return "".join(parts)


def outline(path: str, text: str, *, incremental: bool = False) -> FileOutline:
    """Read a file's definitions and imports; never raises on broken code.

    `incremental`: parse from a recent tree of a nearly equal text (the document being
    edited, which the syntax validator parses too), not from scratch.
    """
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
        """Index (or re-index) one file from its text; `changed` False while first scanning."""
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

    def definitions(self, names: Iterable[str], exclude: str = "") -> list[tuple[str, str]]:
        """(path, name) of the top-level definitions of `names`, outside `exclude`."""
        wanted = set(names)
        with self._lock:
            paths = {p for name in wanted for p in self._by_name.get(name, ())}
            paths.discard(exclude)
            files = [self._files[p] for p in sorted(paths, key=self._seq.__getitem__)]
        return [(file.path, name) for file in files for name in _top_level_names(file)
                if name in wanted]

    def recent(self, count: int, exclude: Sequence[str] = ()) -> list[str]:
        """The files changed last, most recent first."""
        found: list[str] = []
        with self._lock:
            for path in reversed(self._changed):
                if len(found) == count:
                    break
                if path not in exclude:
                    found.append(path)
        return found


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
    index: WorkspaceIndex, path: str, text: str, offset: int, recent: int = 3
) -> list[tuple[str, str]]:
    """(path, text) of other files for the prompt, least relevant first.

    In order of relevance, the last most relevant: files changed recently (as stubs), the
    files the current file imports (whole when small, else stubs), and the definitions of
    the names used near the cursor (stubs). A file appears once, at its most relevant place.
    """
    current = outline(path, text, incremental=True)
    defined = {d.name for d in current.definitions}
    line = text.count("\n", 0, offset)
    lines = text.splitlines()
    window = "\n".join(lines[max(0, line - NEAR_LINES) : line + 5])
    names = [n for n in dict.fromkeys(_IDENTIFIER.findall(window))
             if n not in _NOT_NAMES and n not in defined]
    picked: dict[str, str] = {}
    for other in index.recent(recent, exclude=[path]):
        found = index.get(other)
        if found is not None and found.definitions:
            picked[other] = found.render()
    for module in current.imports:
        target = _resolve(index, module, path)
        found = index.get(target) if target else None
        if found is None or target == path:
            continue
        picked.pop(found.path, None)
        picked[found.path] = _whole_or_stubs(index, found)
    by_file: dict[str, list[str]] = {}
    for other, name in index.definitions(names, exclude=path):
        by_file.setdefault(other, []).append(name)
    for other, wanted in by_file.items():
        found = index.get(other)
        if found is not None:
            picked.pop(other, None)
            picked[other] = found.render(wanted)
    return [(p, t) for p, t in picked.items() if t.strip()]


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


def _whole_or_stubs(index: WorkspaceIndex, found: FileOutline) -> str:
    if found.size <= SMALL_FILE and index.text_of is not None:
        text = index.text_of(found.path)
        if text is not None:
            return text
    return found.render()
