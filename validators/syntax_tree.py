"""The syntax gate for every language with a tree-sitter grammar (Python has `syntax`).

The document is parsed once per version and each candidate incrementally from it
(`validators._trees`). The spliced document's ERROR and MISSING nodes, those nested in
larger ERROR nodes included, are matched against the document's own, moved by the splice:

- an error the document had, now further down or grown around the insertion (the ERROR
  of a function whose brace is never closed), is the document's, not the candidate's;
- an error that matches none of the document's and touches the inserted text is the
  candidate's: it "adds a syntax error" when it lies within the candidate's text, and
  "leaves a syntax error at the cursor" when it reaches into the document around it
  (``foo(`` completed with ``1, 2``: the call is still open);
- elsewhere, only more errors than the document had count against it (tree-sitter may
  recover from the document's own errors differently once the candidate is in).

So a statement typed into a block whose closing brace is not written yet passes, as long
as the statement itself parses; the brace is the user's to close. The price: a Rust tail
expression in a function with no closing brace reads as a statement missing its ``;``.

A language without a loadable grammar, a document over `prompts.grammars.MAX_PARSE_BYTES`,
or a parse slower than `validators._trees.PARSE_SECONDS` is not checked: the verdict is
ok with ``ran`` False and says why.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable

from prompts import grammars
from prompts.languages import PLAIN
from validators._trees import (
    Baselines,
    ErrorNode,
    ParseTimeout,
    encode,
    error_nodes,
    parse_splice,
)
from validators.base import Splice, Verdict

BASELINES = Baselines()
"""The documents' trees, shared by every request of the process."""


def _moved(position: int, start: int, old_end: int, new_end: int) -> tuple[int, ...]:
    """Where a byte position of the document can be after the splice (both ends of it)."""
    if position < start:
        return (position,)
    if position > old_end:
        return (position + new_end - old_end,)
    return (start, new_end)


def new_errors(before: Iterable[ErrorNode], after: Iterable[ErrorNode], start: int,
               old_end: int, new_end: int) -> list[ErrorNode]:
    """The errors of `after` that are none of `before`'s moved by the splice."""
    known = Counter(
        ErrorNode(error.kind, a, b)
        for error in before
        for a in _moved(error.start, start, old_end, new_end)
        for b in _moved(error.end, start, old_end, new_end)
        if a <= b
    )
    found: list[ErrorNode] = []
    for error in after:
        if known[error] > 0:
            known[error] -= 1
        else:
            found.append(error)
    return found


def check_tree(name: str, splice: Splice) -> Verdict:
    """The syntax verdict of `splice` in its (non-Python) language."""
    language = splice.language
    if language is PLAIN:
        where = posixpath.basename(splice.path) or "the document"
        return Verdict(name, True, "not checked", f"{where} is in no language with a syntax "
                       "check", ran=False)
    problem = grammars.grammar_problem(language)
    if problem:
        return Verdict(name, True, "not checked", problem, ran=False)
    try:
        baseline = BASELINES.get(language, splice.document)
        start = len(encode(splice.document[: splice.start]))
        old_end = start + len(encode(splice.document[splice.start : splice.end]))
        text = encode(splice.text)
        source, tree = parse_splice(baseline, start, old_end, text)
    except (ValueError, ParseTimeout, grammars.GrammarError) as exc:
        return Verdict(name, True, "not checked", str(exc), ran=False)
    after = error_nodes(tree)
    new_end = start + len(text)
    added = new_errors(baseline.errors, after, start, old_end, new_end)
    touching = [e for e in added if e.start <= new_end and e.end >= start]
    if touching:
        # An error within the candidate's text is its own; one reaching into the document
        # around it is the hole at the cursor, left open (``foo(`` completed with ``1, 2``).
        inside = start <= touching[0].start and touching[0].end <= new_end
        reason = "adds a syntax error" if inside else "leaves a syntax error at the cursor"
        return Verdict(name, False, reason, _describe(touching[0], source, language.name))
    if len(after) > len(baseline.errors):
        return Verdict(name, False, "adds a syntax error",
                       f"{len(after) - len(baseline.errors)} new error node(s) in "
                       f"{language.name}")
    return Verdict(name, True)


def _describe(error: ErrorNode, source: bytes, language: str) -> str:
    """``line 3: missing ")" (TypeScript)`` or ``line 3: cannot parse "(a" (Go)``."""
    line = source.count(b"\n", 0, error.start) + 1
    if error.kind.startswith("MISSING "):
        return f'line {line}: missing "{error.kind.removeprefix("MISSING ")}" ({language})'
    text = source[error.start : error.end].decode("utf-8", "replace").split("\n", 1)[0]
    return f"line {line}: cannot parse {text[:40]!r} ({language})"
