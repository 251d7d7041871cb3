"""Function spans without `ast`: tree-sitter's error-tolerant tree, then a scan of `def` lines.

tree-sitter keeps a `function_definition` around a broken body. An unclosed docstring or
parenthesis can swallow the rest of the file into an ERROR node; the scan of `def` lines and
indentation is the last resort for those.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import tree_sitter

from prompts._parse import parse_python
from prompts._source import closing_bracket, string_end, strip_comment

Detail = tuple[str, str | None, int]
"""Signature source, docstring literal source (quotes included) and the literal's 1-based line."""


@dataclass(frozen=True)
class Span:
    """Where a function is, and how to read its header once it is chosen."""

    name: str
    qualname: str
    class_name: str | None
    def_line: int
    start_line: int
    end_line: int
    indent: int
    bodiless: bool
    """Only a docstring, imports, `pass` or `...` so far: the body is still to be written."""
    detail: Callable[[], Detail]
    """Computed only for the chosen function: source slicing is linear in the document."""


def tree_sitter_spans(text: str, offset: int) -> list[Span]:
    """Every `function_definition` tree-sitter finds, broken bodies included."""
    data = text.encode("utf-8")
    tree = parse_python(text)
    spans: list[Span] = []
    for node in _walk(tree.root_node):
        if node.type != "function_definition":
            continue
        name_node = node.child_by_field_name("name")
        if name_node is None or name_node.text is None:
            continue
        name = _decoded(name_node.text)
        qualname, class_name = _ts_qualname(node, name)
        top = node.parent if node.parent and node.parent.type == "decorated_definition" else node
        spans.append(
            Span(
                name,
                qualname,
                class_name,
                node.start_point.row + 1,
                top.start_point.row + 1,
                node.end_point.row + 1,
                node.start_point.column,
                _ts_bodiless(node),
                functools.partial(_ts_detail, node, data, text, offset),
            )
        )
    return spans


def _walk(root: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _ts_qualname(node: tree_sitter.Node, name: str) -> tuple[str, str | None]:
    parts = [name]
    class_name: str | None = None
    parent = node.parent
    first = True
    while parent is not None:
        if parent.type in ("class_definition", "function_definition"):
            owner = parent.child_by_field_name("name")
            owner_name = _decoded(owner.text if owner else None) or "?"
            is_class = parent.type == "class_definition"
            if first and is_class:
                class_name = owner_name
            parts.append(owner_name if is_class else f"{owner_name}.<locals>")
            first = False
        parent = parent.parent
    return ".".join(reversed(parts)), class_name


def _ts_bodiless(node: tree_sitter.Node) -> bool:
    body = node.child_by_field_name("body")
    statements = body.named_children if body is not None else []
    return all(
        child.type in ("pass_statement", "import_statement", "import_from_statement")
        or (
            child.type == "expression_statement"
            and all(sub.type in ("string", "ellipsis") for sub in child.named_children)
        )
        for child in statements
    )


def _ts_detail(node: tree_sitter.Node, data: bytes, text: str, offset: int) -> Detail:
    colon = next((child for child in node.children if child.type == ":"), None)
    end = colon.end_byte if colon is not None else node.end_byte
    signature = _decoded(data[node.start_byte : end])
    body = node.child_by_field_name("body")
    children = body.named_children if body is not None else []
    skipped = ("comment", "import_statement", "import_from_statement")
    first = next((child for child in children if child.type not in skipped), None)
    if first is not None and first.type == "expression_statement" and first.named_child_count == 1:
        string = first.named_children[0]
        if string.type == "string" and string.text is not None:
            return signature, _decoded(string.text), string.start_point.row + 1
    if colon is None:
        return signature, None, 0
    # A docstring still being written swallows the rest of the file into an ERROR node.
    literal, line = _literal_after(text, len(_decoded(data[: colon.end_byte])), offset)
    return signature, literal, line


def _decoded(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data else ""


_DEF = re.compile(r"([ \t]*)(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)")
_CLASS = re.compile(r"([ \t]*)class[ \t]+([A-Za-z_]\w*)")
_TRIPLE = re.compile("'''|\"\"\"")
_LITERAL_START = re.compile(r"\s*([rRuU]{0,2})('\'\'|\"\"\"|'|\")")


def scanned_spans(text: str, offset: int, starts: list[int]) -> list[Span]:
    """The nearest `def` above the cursor whose body, by indentation, reaches the cursor.

    `starts` holds the index where each line of `text` starts.
    """
    lines = text.split("\n")
    quoted = _rows_in_strings(text, starts)
    lowest = 1 << 30
    for row in range(text.count("\n", 0, offset), -1, -1):
        line = lines[row]
        if row in quoted or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        match = _DEF.match(line)
        if match and indent < lowest:
            end = _scanned_end(lines, quoted, row, indent)
            name = match.group(2)
            owner = _scanned_class(lines, quoted, row, indent)
            qualname = f"{owner}.{name}" if owner else name
            detail = functools.partial(_scanned_detail, text, starts[row] + indent, offset)
            return [Span(name, qualname, owner, row + 1, row + 1, end, indent, True, detail)]
        lowest = min(lowest, indent)
    return []


def _rows_in_strings(text: str, starts: list[int]) -> set[int]:
    """Rows that begin inside a triple-quoted string (approximate: ignores other strings)."""
    rows: set[int] = set()
    pos = 0
    while match := _TRIPLE.search(text, pos):
        end = string_end(text, match.start(), len(text))
        end = len(text) if end < 0 else end
        first = bisect.bisect_right(starts, match.start())
        last = bisect.bisect_right(starts, end - 1) - 1
        rows.update(range(first, last + 1))
        pos = end
    return rows


def _scanned_end(lines: list[str], quoted: set[int], row: int, indent: int) -> int:
    last = row
    for later in range(row + 1, len(lines)):
        line = lines[later]
        if later in quoted or not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent:
            break
        last = later
    return last + 1


def _scanned_class(lines: list[str], quoted: set[int], row: int, indent: int) -> str | None:
    for earlier in range(row - 1, -1, -1):
        line = lines[earlier]
        if earlier in quoted or not line.strip():
            continue
        level = len(line) - len(line.lstrip())
        if level < indent:
            match = _CLASS.match(line)
            return match.group(2) if match else None
    return None


def _scanned_detail(text: str, start: int, offset: int) -> Detail:
    paren = text.find("(", start)
    close = closing_bracket(text, paren) if paren >= 0 else -1
    header_end = text.find("\n", close if close >= 0 else start)
    header_end = len(text) if header_end < 0 else header_end
    signature = strip_comment(text[start:header_end])
    if close < 0:
        return signature, None, 0
    literal, line = _literal_after(text, header_end, offset)
    return signature, literal, line


def _literal_after(text: str, start: int, offset: int) -> tuple[str | None, int]:
    """The string literal that starts the body after `start`; an unclosed one ends at `offset`."""
    match = _LITERAL_START.match(text, start)
    if match is None:
        return None, 0
    end = string_end(text, match.start(2), len(text))
    end = end if end >= 0 else max(offset, match.end())
    return text[match.start(1) : end], text.count("\n", 0, match.start(1)) + 1


_TOP_LEVEL = re.compile(
    r"^(?:(?:async\s+)?def\s+(\w+)|class\s+(\w+)|(\w+)\s*(?::[^=\n]*)?=(?!=)"
    r"|import\s+([^\n#]+)|from\s+\S+\s+import\s+\(?([^\n#)]+))",
    re.MULTILINE,
)


def scanned_names(text: str) -> set[str]:
    """Names bound by lines at column 0, for a document `ast` cannot parse."""
    names: set[str] = set()
    for match in _TOP_LEVEL.finditer(text):
        if match.group(1) or match.group(2) or match.group(3):
            names.add(match.group(1) or match.group(2) or match.group(3))
            continue
        for item in (match.group(4) or match.group(5) or "").split(","):
            words = item.split()
            if words and words[0] != "*":
                names.add(words[-1].split(".")[0] if len(words) in (1, 3) else words[0])
    return names
