"""One file's definitions and imports, and how they read as stubs in a prompt.

Python is outlined in `prompts.index`; the other languages of `prompts._queries.SPECS`
here, with tree-sitter queries. A stub keeps what a caller needs and drops bodies:
functions as their header plus ``{ ... }``, classes, interfaces and traits with their
fields whole and their methods as stubs, types (structs, enums, aliases) and constants
whole when short. A comment right above a definition comes with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import tree_sitter

from prompts._queries import SPECS, OutlineSpec
from prompts.grammars import grammar_problem, parse, parser_for
from prompts.languages import Language, by_id, language_for

MAX_STUB_LINES = 40
"""A type or class shown longer than this is cut, its end marked ``...``."""
MAX_CONSTANT_LINES = 3
"""A longer constant shows its first line only."""
MAX_COMMENT_LINES = 4
"""A longer comment above a definition is left out."""


@dataclass(frozen=True)
class Definition:
    """A function, class, type or constant a file defines."""

    name: str
    qualname: str
    """``Class.method`` for a method."""
    kind: str
    """"function", "class", "type", "constant" or "impl"."""
    line: int
    """1-based line of the definition (of its ``def``/``class`` in Python)."""
    signature: str
    """Python: the header up to its colon (``def f(x: int) -> str:``), without decorators."""
    doc: str = ""
    """First line of the docstring (Python)."""
    stub: str | None = None
    """Other languages: the definition as the prompt shows it ("" for a member, which its
    class's stub shows); None for Python, whose stub is built from `signature`."""

    def render(self, indent: str = "") -> str:
        """The definition as a stub: its header, its docstring line, ``...``."""
        if self.stub is not None:
            return self.stub
        body = f'{indent}    """{self.doc}"""\n' if self.doc else ""
        return f"{indent}{self.signature}\n{body}{indent}    ...\n"


@dataclass(frozen=True)
class FileOutline:
    """One file's definitions and imports."""

    path: str
    """Relative to the workspace root."""
    definitions: tuple[Definition, ...]
    imports: tuple[str, ...]
    """Python: dotted modules it imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``);
    other languages: the specifiers as written (``./util``, ``crate::a::b``, ``util.h``)."""
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


def family(language: Language) -> str:
    """Which languages share context: JS with TS and TSX, C with C++ (a ``.h`` is either)."""
    if language.id in ("javascript", "typescript", "typescriptreact"):
        return "javascript"
    if language.id in ("c", "cpp"):
        return "c"
    return language.id


def outlined(language: Language) -> bool:
    """Whether files of `language` are outlined here (Python is, in `prompts.index`)."""
    return language.id in SPECS and not grammar_problem(language)


@cache
def _queries(language_id: str) -> tuple[tree_sitter.Query, tree_sitter.Query | None]:
    language = by_id(language_id)
    assert language is not None, language_id
    loaded = parser_for(language).language
    assert loaded is not None, language_id
    spec = SPECS[language_id]
    imports = tree_sitter.Query(loaded, spec.imports) if spec.imports else None
    return tree_sitter.Query(loaded, spec.definitions), imports


def code_outline(path: str, text: str, language: Language | None = None) -> FileOutline:
    """Read a non-Python file's definitions and imports; never raises on broken code."""
    language = language or language_for(None, path)
    data = text.encode("utf-8", "surrogatepass")
    if not outlined(language):
        return FileOutline(path, (), (), len(data))
    try:
        tree = parse(language, text)
    except (ValueError, UnicodeEncodeError):  # too large, or a lone surrogate
        return FileOutline(path, (), (), len(data))
    spec = SPECS[language.id]
    definitions_query, imports_query = _queries(language.id)
    found: dict[int, Definition] = {}
    members: list[Definition] = []
    for _, captures in tree_sitter.QueryCursor(definitions_query).matches(tree.root_node):
        for kind in ("function", "class", "type", "constant", "method", "impl"):
            nodes = captures.get(kind)
            if not nodes or not _top_level(nodes[0], spec):
                continue
            node, name_node = nodes[0], captures["name"][0]
            owner = captures.get("owner", [None])[0]
            definition = _definition(kind, node, name_node, owner, data)
            if node.start_byte not in found:
                found[node.start_byte] = definition
                if kind in ("class", "impl"):
                    members += _members(node, definition.name, data)
    imports: list[str] = []
    if imports_query is not None:
        for node in tree_sitter.QueryCursor(imports_query).captures(tree.root_node).get(
            "import", []
        ):
            imports.append(_text(node, data).strip("\"'`<>"))
    definitions = [found[key] for key in sorted(found)] + members
    return FileOutline(path, tuple(definitions), tuple(dict.fromkeys(imports)), len(data))


def _top_level(node: tree_sitter.Node, spec: OutlineSpec) -> bool:
    """Whether every node above `node` is a scope definitions may sit in."""
    parent = node.parent
    while parent is not None:
        if parent.type not in spec.scopes:
            return False
        parent = parent.parent
    return True


def _definition(kind: str, node: tree_sitter.Node, name_node: tree_sitter.Node,
                owner: tree_sitter.Node | None, data: bytes) -> Definition:
    name = _text(name_node, data).rsplit("::", 1)[-1]
    qualname = f"{_text(owner, data)}.{name}" if owner is not None else name
    outer = node.parent if node.parent is not None and node.parent.type in (
        "export_statement", "template_declaration") else node
    if kind == "impl":
        qualname = f"{name}.impl"  # shown with its type's stub, not a name of its own
    if kind in ("class", "impl"):
        stub = _class_stub(outer, node, data)
    elif kind in ("function", "method"):
        stub = _function_stub(outer, node, data)
    else:
        stub = _whole(outer, data, MAX_CONSTANT_LINES if kind == "constant" else MAX_STUB_LINES)
    comment = _comment_above(outer, data)
    return Definition(name, qualname, "function" if kind == "method" else kind,
                      outer.start_point.row + 1, "", stub=comment + stub + "\n")


def _body(node: tree_sitter.Node) -> tree_sitter.Node | None:
    body = node.child_by_field_name("body")
    if body is None and node.type == "lexical_declaration":
        return None
    return body


def _function_stub(outer: tree_sitter.Node, node: tree_sitter.Node, data: bytes) -> str:
    body = _body(node)
    if body is None:  # a prototype or signature: all of it is the header
        return _whole(outer, data, MAX_STUB_LINES)
    return _decode(data[outer.start_byte : body.start_byte]).rstrip() + " { ... }"


def _class_stub(outer: tree_sitter.Node, node: tree_sitter.Node, data: bytes) -> str:
    body = _body(node)
    if body is None:
        return _whole(outer, data, MAX_STUB_LINES)
    header = _decode(data[outer.start_byte : body.start_byte]).rstrip()
    lines = [f"{header} {{"]
    for member in body.children:
        if not member.is_named:  # punctuation: the ";" or ":" ending a member stays
            if member.type in (";", ":", ",") and len(lines) > 1:
                lines[-1] += member.type
            continue
        if "comment" in member.type:
            continue
        inner = _body(member)
        if inner is not None and inner.type not in ("field_declaration_list", "enum_body"):
            text = _decode(data[member.start_byte : inner.start_byte]).rstrip() + " { ... }"
        else:
            text = _decode(data[member.start_byte : member.end_byte])
        lines += ["    " + line.strip() for line in text.splitlines()]
        if len(lines) > MAX_STUB_LINES:
            lines.append("    ...")
            break
    lines.append("}" + _after(node, data))
    return "\n".join(lines)


def _after(node: tree_sitter.Node, data: bytes) -> str:
    """A ``;`` that closes a C++ class or a C struct."""
    following = node.next_sibling
    return ";" if following is not None and _text(following, data) == ";" else ""


def _members(node: tree_sitter.Node, owner: str, data: bytes) -> list[Definition]:
    """A class's methods and fields with a name, shown by the class's stub."""
    body = _body(node)
    if body is None:
        return []
    found = []
    for member in body.named_children:
        name_node = member.child_by_field_name("name")
        if name_node is None:
            declarator = member.child_by_field_name("declarator")
            while declarator is not None and declarator.child_by_field_name("declarator"):
                declarator = declarator.child_by_field_name("declarator")
            name_node = declarator
        if name_node is not None:
            name = _text(name_node, data)
            found.append(Definition(name, f"{owner}.{name}", "function",
                                    member.start_point.row + 1, "", stub=""))
    return found


def _whole(node: tree_sitter.Node, data: bytes, max_lines: int) -> str:
    """All of `node` when short; else its first lines, or a function value's header."""
    text = (_decode(data[node.start_byte : node.end_byte]) + _after(node, data)).rstrip()
    lines = text.splitlines()
    if len(lines) <= max_lines:
        return text
    if max_lines > MAX_CONSTANT_LINES:
        return "\n".join([*lines[:max_lines], "    ..."])
    value = _function_value(node)
    if value is not None:
        return _decode(data[node.start_byte : value.start_byte]).rstrip() + " { ... }"
    return lines[0] + " ..."


def _function_value(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The body of a function a JS/TS constant holds (``const f = (x) => {...}``)."""
    declaration = node.child_by_field_name("declaration") or node  # under `export`
    for declarator in declaration.named_children:
        value = declarator.child_by_field_name("value")
        if value is not None and value.type in ("arrow_function", "function_expression"):
            return value.child_by_field_name("body")
    return None


def _comment_above(node: tree_sitter.Node, data: bytes) -> str:
    """The comment on the lines right above `node` (a doc comment), if short."""
    comments: list[tree_sitter.Node] = []
    previous, row = node.prev_sibling, node.start_point.row
    while previous is not None and "comment" in previous.type and previous.end_point.row >= row - 1:
        comments.insert(0, previous)
        row = previous.start_point.row
        previous = previous.prev_sibling
    if not comments:
        return ""
    text = _decode(data[comments[0].start_byte : comments[-1].end_byte]).rstrip()
    return text + "\n" if text.count("\n") < MAX_COMMENT_LINES else ""


def _text(node: tree_sitter.Node, data: bytes) -> str:
    return _decode(data[node.start_byte : node.end_byte])


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")
