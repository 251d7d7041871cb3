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

The document is the whole file with the hole line emptied but for its indentation, the
cursor after that indentation (as after pressing Enter in an editor that indents); the
reference is the original file. What the prompt keeps of it is the product's budget
(``--max-prompt-tokens``).
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
        Grammar("java", (".java",), _pairs(("method_declaration", "lambda_expression"), "block")
                | _pairs(("constructor_declaration",), "constructor_body")),
    )
}
"""The languages measured, in table order."""


@dataclass(frozen=True)
class Case:
    """One hole: `canonical` belongs at `offset` of `text` (the emptied line)."""

    language: Language
    path: str
    """Relative to the language's data folder: ``<package>-<version>/<file>``."""
    line: int
    """1-based line of the hole."""
    text: str
    """The document: the file with the hole line emptied but for its indentation."""
    offset: int
    canonical: str
    """The hole line's text without its indentation and line end."""
    reference: str
    """The original file."""
    reference_errors: int
    """Tree-sitter ERROR and MISSING nodes in the original file."""
    document_errors: int
    """The same in the document with the hole."""

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


def cut(language: Language, path: str, source: str, row: int, reference_errors: int) -> Case:
    """The case whose hole is line `row` (0-based) of `source`."""
    lines = source.split("\n")
    line = lines[row].rstrip("\r")
    indent = line[: len(line) - len(line.lstrip())]
    before = "\n".join(lines[:row]) + ("\n" if row else "")
    after = source[len(before) + len(lines[row]):]
    text = before + indent + after
    return Case(language, path, row + 1, text, len(before) + len(indent), line.strip(), source,
                reference_errors, error_count(language, text))


def load_cases(data: Path, language_id: str, count: int) -> list[Case]:
    """The seeded subset of `count` holes of one language (fewer when it has fewer)."""
    grammar = BODIES[language_id]
    language = by_id(language_id)
    assert language is not None, language_id
    folder = data / grammar.language
    found: list[tuple[str, str, int]] = []
    for file in source_files(data, grammar):
        source = file.read_text(encoding="utf-8", errors="replace")
        relative = file.relative_to(folder).as_posix()
        found.extend((relative, source, row) for row in hole_lines(language, grammar, source))
    chosen = sorted(random.Random(SEED).sample(range(len(found)), min(count, len(found))))
    errors: dict[str, int] = {}
    cases = []
    for index in chosen:
        relative, source, row = found[index]
        if relative not in errors:
            errors[relative] = error_count(language, source)
        cases.append(cut(language, relative, source, row, errors[relative]))
    return cases
