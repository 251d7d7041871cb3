"""How delivered tests are written into a test file: imports on top, tests at the end.

`edits_adding` returns the edits, each a span of the file's current text and its
replacement, so that an editor (a ``WorkspaceEdit``) and the command line (`apply_edits`)
write the same thing:

- the imports the tests need join the file's own at its top, so that nothing is imported
  mid file (ruff E402): a plain ``import x`` before the file's first import, a
  ``from m import y`` after its last leading one (an ``if``/``try`` holding imports counts
  as one); in a file without imports, after the module docstring and ``from __future__``
  imports. Sections (standard library, third party, the project) are not regrouped:
  isort may still want a blank line moved;
- an import the file already has (the same names bound from the same module) is left out;
  names missing from a one-line ``from m import a`` of the same module are merged into it;
- the tests go at the end, after two blank lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prompts.testgen import ParsedTest

_Binding = tuple[str, int, str, str, str]
"""(kind, relative level, module, name, bound as) of one name an import binds."""


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` by `new_text` (an insertion when `start == end`)."""

    start: int
    end: int
    new_text: str


def edits_adding(text: str, imports: Sequence[str], tests: Sequence[str]) -> list[Edit]:
    """The edits that add `tests` (function sources) and the `imports` they need to `text`.

    The edits do not overlap and are in the order of the text.
    """
    if not tests:
        return []
    body = "\n\n\n".join(test.rstrip() for test in tests) + "\n"
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):  # no place for imports in it: all at the end
        return [Edit(len(text), len(text), _appended(text, _import_block(imports), body))]
    if not text.strip():
        return [Edit(0, len(text), _appended("", _import_block(_missing(set(), imports)), body))]
    wanted = _missing({b for node in tree.body for b in _bindings(node)}, imports)
    edits = _merged(text, tree, wanted)
    added = [line for line in wanted if not _merged_into(line, edits)]
    end = len(text.rstrip())
    header = _header(tree)
    head = _line_after(text, header[-1]) if header else 0
    imports_in = [n for n in header if _bindings(n) and not _is_future(n)]
    if imports_in:  # beside the file's own imports
        plain = sorted(line for line in added if line.startswith("import "))
        edits += _plain_edits(text, imports_in, plain)
        added = [line for line in added if line not in plain]
        statements = [n for n in imports_in if isinstance(n, ast.Import | ast.ImportFrom)]
        head = _line_after(text, statements[-1]) if statements else head
    block = _import_block(added)
    if head >= end:  # nothing but a docstring and imports: one edit at the end
        lead = "\n" if imports_in else "\n\n"
        edits.append(Edit(end, len(text), (lead + block if block else "") + "\n\n\n" + body))
        return sorted(edits, key=lambda edit: edit.start)
    if block and imports_in:
        edits.append(Edit(head, head, block + "\n"))
    elif block:  # a blank line after the docstring, two before the code
        before = "\n" if head else ""
        after = "\n\n" if head == 0 else "" if text[head] == "\n" else "\n\n"
        edits.append(Edit(head, head, before + block + "\n" + after))
    edits.append(Edit(end, len(text), "\n\n\n" + body))
    return sorted(edits, key=lambda edit: edit.start)


def _plain_edits(text: str, imports: Sequence[ast.stmt], plain: Sequence[str]) -> list[Edit]:
    """Insert each ``import x`` among the file's leading plain imports, in name order."""
    own = [n for n in imports if isinstance(n, ast.Import)]
    at: dict[int, list[str]] = {}
    for line in plain:
        name = line.split()[1]
        later = next((n for n in own if n.names[0].name > name), None)
        if later is not None:
            offset = _offset(text, later.lineno, 0)
        elif own:
            offset = _line_after(text, own[-1])
        else:
            offset = _offset(text, imports[0].lineno, 0)
        at.setdefault(offset, []).append(line)
    return [Edit(offset, offset, "".join(f"{line}\n" for line in lines))
            for offset, lines in at.items()]


def _appended(text: str, block: str, body: str) -> str:
    """What follows `text` when imports and tests are all appended."""
    joined = block + "\n\n\n" + body if block else body
    if not text.strip():
        return joined
    return ("\n\n" if text.endswith("\n") else "\n\n\n") + joined


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """`text` with non-overlapping `edits` made."""
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.new_text + text[edit.end :]
    return text


def _bindings(node: ast.AST) -> set[_Binding]:
    if isinstance(node, ast.Import):
        return {("import", 0, a.name, a.name, a.asname or a.name.split(".")[0])
                for a in node.names}
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        return {("from", node.level, module, a.name, a.asname or a.name) for a in node.names}
    if isinstance(node, ast.If | ast.Try):
        return {b for child in ast.iter_child_nodes(node) for b in _bindings(child)}
    return set()


def _statement(line: str) -> ast.Import | ast.ImportFrom | None:
    try:
        body = ast.parse(line).body
    except (SyntaxError, ValueError):
        return None
    return body[0] if len(body) == 1 and isinstance(body[0], ast.Import | ast.ImportFrom) else None


def _missing(have: set[_Binding], imports: Sequence[str]) -> list[str]:
    """The import statements of `imports` binding something `have` lacks, each once."""
    missing: list[str] = []
    for line in dict.fromkeys(imports):
        node = _statement(line)
        if node is None or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            continue
        bindings = _bindings(node)
        if not bindings <= have:
            missing.append(line)
            have = have | bindings
    return missing


def _merged(text: str, tree: ast.Module, wanted: list[str]) -> list[Edit]:
    """Edits adding names to the file's one-line ``from m import ...`` of the same module."""
    edits = []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or node.end_lineno != node.lineno:
            continue
        segment = ast.get_source_segment(text, node) or ""
        if "#" in segment or "(" in segment or any(a.name == "*" for a in node.names):
            continue
        names = [_alias(a) for a in node.names]
        for line in wanted:
            new = _statement(line)
            if (isinstance(new, ast.ImportFrom) and new.module == node.module
                    and new.level == node.level and all(a.name != "*" for a in new.names)):
                names += [_alias(a) for a in new.names if _alias(a) not in names]
        if len(names) > len(node.names):
            start = _offset(text, node.lineno, node.col_offset)
            merged = f"from {'.' * node.level}{node.module or ''} import " + ", ".join(
                sorted(names, key=_name_order))
            edits.append(Edit(start, start + len(segment), merged))
    return edits


def _merged_into(line: str, edits: Sequence[Edit]) -> bool:
    """Whether the names of the from-import `line` now stand in an import `edits` rewrote."""
    new = _statement(line)
    return isinstance(new, ast.ImportFrom) and any(
        _bindings(new) <= _bindings(_statement(edit.new_text) or ast.Pass()) for edit in edits)


def _alias(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def _name_order(name: str) -> tuple[int, str]:
    """The order by type of isort: CONSTANTS, then Classes, then functions and modules."""
    bare = name.split(" ", 1)[0]
    kind = 0 if bare.isupper() and len(bare) > 1 else 1 if bare[:1].isupper() else 2
    return kind, bare


def _import_block(lines: Sequence[str]) -> str:
    """Plain imports first (sorted), then from-imports in the order given."""
    plain = sorted(line for line in lines if line.startswith("import "))
    return "\n".join(plain + [line for line in lines if line not in plain])


def _header(tree: ast.Module) -> list[ast.stmt]:
    """The file's leading docstring, future imports and imports (``if``/``try`` of imports)."""
    header = []
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(
            node.value, ast.Constant) and isinstance(node.value.value, str)
        if not (docstring or isinstance(node, ast.Import | ast.ImportFrom) or (
                isinstance(node, ast.If | ast.Try) and _bindings(node))):
            break
        header.append(node)
    return header


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _line_after(text: str, node: ast.stmt) -> int:
    return _offset(text, (node.end_lineno or node.lineno) + 1, 0)


def _offset(text: str, line: int, column: int) -> int:
    """The offset of 1-based `line`'s UTF-8 `column` (the text's length past its end)."""
    lines = text.splitlines(keepends=True)
    if line > len(lines):
        return len(text)
    start = sum(len(row) for row in lines[: line - 1])
    return start + len(lines[line - 1].encode("utf-8")[:column].decode("utf-8", "replace"))


def imports_used(test: ParsedTest) -> tuple[str, ...]:
    """The answer's import statements that bind a name the test function uses.

    A star import is kept: it may bind any of them (a helper of the module under test).
    """
    try:
        tree = ast.parse(test.function)
    except (SyntaxError, ValueError):
        return ()
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    kept = []
    for statement in test.imports:
        node = _statement(statement)
        if node is not None:
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if bound & used or "*" in bound:
                kept.append(statement)
    return tuple(kept)
