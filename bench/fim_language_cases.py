"""The cases of the other-language FIM benchmark (`bench/fim_languages.py`): one-line holes.

Sources are the pinned packages `bench/fetch_sources.sh` puts under ``DATA/<language>/``.
The rule that cuts a hole, the same for every language:

* files: every file of the language's extensions under ``DATA/<language>/``, sorted by
  path, except files over `MAX_FILE_BYTES` and test files (`TEST_FILE`);
* bodies: every function body the language's tree-sitter grammar finds (`BODIES`: the
  body node type under a function-like parent), skipped when the body holds an error node
  (macros in C headers, say), so the hole's neighbourhood parses;
* hole lines: each line strictly inside such a body (not the braces' own lines) whose
  text, without its indentation and line end, is exactly the span of one named node that
  is no comment (a whole statement: ``return x;``, ``let y = f(x)?;``, ``count++``, never
  ``if (x) {`` or half a call), between `MIN_LINE` and `MAX_LINE` characters long;
* the subset: ``sorted(random.Random(SEED).sample(range(N), CASES))`` of a language's N
  hole lines in file order (each line at most once, whichever bodies contain it).

The document, per layout (`LAYOUTS`); the reference is always the original file:

* ``empty-line``: the hole line emptied but for its indentation, the cursor after that
  indentation (as after pressing Enter in an editor that indents);
* ``joined``: the hole line removed with its line end, the cursor at column 0 of the line
  after it (a new line written above existing code);
* ``typed``: the line typed up to and including its first opening bracket, with the closer
  the editor auto-inserts (VS Code's default ``autoClosingBrackets``) right after the
  cursor: ``foo(|)`` for ``foo(bar);``. Only lines with a bracket before any quote and
  something between the brackets are holes of this layout.

What the prompt keeps of the document is the product's budget (``--max-prompt-tokens``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

from prompts import grammars
from prompts.languages import Language, by_id

DEFAULT_DATA = Path("/tmp/vetted-lang-src")
"""Where `bench/fetch_sources.sh` puts the sources by default."""
SEED = 0
MAX_FILE_BYTES = 150_000
"""Larger files are left out (stb's biggest headers): the whole file is the document."""
MIN_LINE = 4
MAX_LINE = 100
LAYOUTS = ("empty-line", "joined", "typed")
CLOSERS = {"(": ")", "[": "]", "{": "}"}
"""What the editor auto-inserts after each opening bracket typed at the end of a line."""
TEST_FILE = re.compile(r"(_test\.go|\.(spec|test)\.[jt]s)$|(^|/)(tests?|__tests__)/")
"""Test files are left out: the holes are in library code."""


@dataclass(frozen=True)
class Grammar:
    """Where one language's files are and what its function bodies look like."""

    language: str
    """The `prompts.languages` id, also the folder under the data directory."""
    extensions: tuple[str, ...]
    bodies: frozenset[tuple[str, str]]
    """(parent type, body type) pairs: a function-like node and its body."""


def _pairs(parents: Sequence[str], body: str) -> frozenset[tuple[str, str]]:
    return frozenset((parent, body) for parent in parents)


_JS_FUNCTIONS = ("function_declaration", "function_expression", "function", "arrow_function",
                 "method_definition", "generator_function_declaration", "generator_function")
BODIES: dict[str, Grammar] = {
    grammar.language: grammar
    for grammar in (
        Grammar("typescript", (".ts",), _pairs(_JS_FUNCTIONS, "statement_block")),
        Grammar("javascript", (".js",), _pairs(_JS_FUNCTIONS, "statement_block")),
        Grammar("go", (".go",), _pairs(
            ("function_declaration", "method_declaration", "func_literal"), "block")),
        Grammar("rust", (".rs",), _pairs(("function_item", "closure_expression"), "block")),
        Grammar("c", (".c", ".h"), _pairs(("function_definition",), "compound_statement")),
        Grammar("cpp", (".cc", ".h"), _pairs(("function_definition", "lambda_expression"),
                                               "compound_statement")),
        Grammar("java", (".java",), _pairs(("method_declaration", "lambda_expression"), "block")
                | _pairs(("constructor_declaration",), "constructor_body")),
    )
}
"""The languages measured, in table order."""


@dataclass(frozen=True)
class Case:
    """One hole: `text` with the hole's text at `offset` is the original file again."""

    language: Language
    path: str
    """Relative to the language's data folder: ``<package>-<version>/<file>``."""
    line: int
    """1-based line of the hole."""
    text: str
    """The document as the layout leaves it."""
    offset: int
    canonical: str
    """The hole line's text without its indentation and line end."""
    reference: str
    """The original file."""
    reference_errors: int
    """Tree-sitter ERROR and MISSING nodes in the original file."""
    document_errors: int
    """The same in the document with the hole."""
    layout: str = "empty-line"

    @property
    def case_id(self) -> str:
        """``path:line``."""
        return f"{self.path}:{self.line}"


def error_count(language: Language, source: str) -> int:
    """ERROR and MISSING nodes in the tree-sitter parse of `source` (outermost ones only)."""
    count, pending = 0, [grammars.parse(language, source).root_node]
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            count += 1
        elif node.has_error:
            pending.extend(node.children)
    return count


def source_files(data: Path, grammar: Grammar) -> list[Path]:
    """The language's files the holes come from, sorted."""
    folder = data / grammar.language
    if not folder.is_dir():
        raise SystemExit(f"fim_languages: no {folder} (run bench/fetch_sources.sh {data})")
    return sorted(
        path for path in folder.rglob("*")
        if path.suffix in grammar.extensions and path.is_file()
        and path.stat().st_size <= MAX_FILE_BYTES
        and not TEST_FILE.search(path.relative_to(folder).as_posix())
    )


def _bodies(root: tree_sitter.Node,
            pairs: frozenset[tuple[str, str]]) -> Iterator[tree_sitter.Node]:
    """Every function body under `root` that holds no error node."""
    pending = [root]
    while pending:
        node = pending.pop()
        parent = node.parent
        if parent is not None and (parent.type, node.type) in pairs and not node.has_error:
            yield node
        pending.extend(node.children)


def _is_statement(root: tree_sitter.Node, start: int, end: int) -> bool:
    """Whether bytes start..end are exactly one named node's span, not a comment's."""
    node = root.named_descendant_for_byte_range(start, end)
    return (node is not None and node.start_byte == start and node.end_byte == end
            and "comment" not in node.type)


def hole_lines(language: Language, grammar: Grammar, source: str) -> list[int]:
    """0-based lines of `source` where a hole may be cut (see the module docstring)."""
    data = source.encode("utf-8")
    tree = grammars.parse(language, source)
    lines = data.split(b"\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    found: set[int] = set()
    for body in _bodies(tree.root_node, grammar.bodies):
        for row in range(body.start_point.row + 1, body.end_point.row):
            raw = lines[row].rstrip(b"\r")
            text = raw.strip()
            if not MIN_LINE <= len(text.decode("utf-8", "replace")) <= MAX_LINE:
                continue
            start = starts[row] + len(raw) - len(raw.lstrip())
            if _is_statement(tree.root_node, start, start + len(text)):
                found.add(row)
    return sorted(found)


def typed_length(canonical: str) -> int | None:
    """How much of a hole line the typed layout types: up to its first opening bracket.

    None when a quote comes first (no bracket is auto-closed inside a string), the line has
    no bracket, or nothing would be left to write between the brackets.
    """
    for index, char in enumerate(canonical):
        if char in "\"'`":
            return None
        if char in CLOSERS:
            rest = canonical[index + 1 :]
            return index + 1 if rest.strip() and rest[0] != CLOSERS[char] else None
    return None


def cut(language: Language, path: str, source: str, row: int, reference_errors: int,
        layout: str = "empty-line") -> Case:
    """The case whose hole is line `row` (0-based) of `source`, in one of the `LAYOUTS`."""
    lines = source.split("\n")
    line = lines[row].rstrip("\r")
    indent = line[: len(line) - len(line.lstrip())]
    before = "\n".join(lines[:row]) + ("\n" if row else "")
    after = source[len(before) + len(lines[row]):]
    canonical = line.strip()
    if layout == "empty-line":
        text, offset = before + indent + after, len(before) + len(indent)
    elif layout == "joined":
        text, offset = before + after[1:], len(before)
    elif layout == "typed":
        typed = typed_length(canonical)
        if typed is None:
            raise ValueError(f"{path}:{row + 1}: no bracket to type up to in {canonical!r}")
        head = before + indent + canonical[:typed]
        text, offset = head + CLOSERS[canonical[typed - 1]] + after, len(head)
    else:
        raise ValueError(f"unknown layout {layout!r} (one of {', '.join(LAYOUTS)})")
    return Case(language, path, row + 1, text, offset, canonical, source, reference_errors,
                error_count(language, text), layout)


def load_cases(data: Path, language_id: str, count: int,
               layout: str = "empty-line") -> list[Case]:
    """The seeded subset of `count` holes of one language (fewer when it has fewer).

    The typed layout draws from the hole lines it can type (`typed_length`) only.
    """
    grammar = BODIES[language_id]
    language = by_id(language_id)
    assert language is not None, language_id
    folder = data / grammar.language
    found: list[tuple[str, str, int]] = []
    for file in source_files(data, grammar):
        source = file.read_text(encoding="utf-8", errors="replace")
        relative = file.relative_to(folder).as_posix()
        lines = source.split("\n")
        found.extend(
            (relative, source, row) for row in hole_lines(language, grammar, source)
            if layout != "typed" or typed_length(lines[row].strip()) is not None
        )
    chosen = sorted(random.Random(SEED).sample(range(len(found)), min(count, len(found))))
    errors: dict[str, int] = {}
    cases = []
    for index in chosen:
        relative, source, row = found[index]
        if relative not in errors:
            errors[relative] = error_count(language, source)
        cases.append(cut(language, relative, source, row, errors[relative], layout))
    return cases
