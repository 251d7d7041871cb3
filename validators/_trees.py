"""Parse trees for the syntax gate: the document's once, each candidate's incrementally from it.

Every candidate of a request is spliced into the same document, and the next keystroke's
document differs from this one by a character: the document is parsed once (from a recent
document's tree when one is close) and each splice is parsed from a copy of its tree,
edited where the candidate goes (`Tree.edit`, then ``parser.parse(new, old_tree)``), so
tree-sitter re-reads only around the insertion. ``prompts/_parse.py`` does the same for Python.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter

from prompts import grammars
from prompts._parse import shared_ends
from prompts.languages import Language

PARSE_SECONDS = 1.0
"""Longest one parse may take before the check gives up on the document (a grammar that
backtracks badly on some input); the verdict then says it did not run."""

_CHUNK = 64 * 1024
"""Bytes handed to tree-sitter per read, so its progress callback can stop a slow parse."""


class ParseTimeout(RuntimeError):
    """A parse took longer than `PARSE_SECONDS`."""


@dataclass(frozen=True)
class ErrorNode:
    """One ERROR or MISSING node: what it is and where (bytes of its document)."""

    kind: str
    """``ERROR``, or ``MISSING`` and the token tree-sitter found missing (``MISSING }``)."""
    start: int
    end: int


@dataclass(frozen=True)
class Baseline:
    """A document parsed once, for every splice into it."""

    language: Language
    source: bytes
    tree: tree_sitter.Tree
    errors: tuple[ErrorNode, ...]


def error_nodes(tree: tree_sitter.Tree) -> tuple[ErrorNode, ...]:
    """Every ERROR and MISSING node in document order, those nested in an ERROR included.

    An error in the candidate's own text often lands inside a larger ERROR node the
    document already had (a function whose brace is never closed): only its nested nodes
    tell a good candidate from a broken one.
    """
    found: list[ErrorNode] = []
    pending = [tree.root_node]
    while pending:
        node = pending.pop()
        if node.is_missing:
            found.append(ErrorNode(f"MISSING {node.type}", node.start_byte, node.end_byte))
            continue
        if node.is_error:
            found.append(ErrorNode("ERROR", node.start_byte, node.end_byte))
        if node.has_error:
            pending.extend(child for child in reversed(node.children) if child.has_error)
    return tuple(found)


def point(source: bytes, offset: int) -> tuple[int, int]:
    """Tree-sitter's (row, byte column) of a byte offset."""
    row = source.count(b"\n", 0, offset)
    return row, offset - (source.rfind(b"\n", 0, offset) + 1)


def _parse(language: Language, source: bytes, old: tree_sitter.Tree | None) -> tree_sitter.Tree:
    """Parse within `PARSE_SECONDS` (`ParseTimeout`; `GrammarError` without a grammar)."""
    parser = grammars.parser_for(language)
    deadline = time.monotonic() + PARSE_SECONDS

    def read(offset: int, _: tuple[int, int]) -> bytes:
        return source[offset : offset + _CHUNK]

    def too_slow(*_: object) -> bool:
        return time.monotonic() > deadline

    # Only a parse that reads through a callback can be stopped by `progress_callback`.
    parse: Callable[..., tree_sitter.Tree | None] = parser.parse
    try:
        if old is None:
            tree = parse(read, progress_callback=too_slow)
        else:
            tree = parse(read, old, progress_callback=too_slow)
    except ValueError:  # tree-sitter 0.26 raises "Parsing failed" for a cancelled parse
        tree = None
    if tree is None:
        parser.reset()
        raise ParseTimeout(f"parsing took longer than {PARSE_SECONDS:g} s")
    return tree


def encode(text: str) -> bytes:
    """The UTF-8 tree-sitter reads (lone surrogates kept, as the editor sent them)."""
    return text.encode("utf-8", "surrogatepass")


def edited(tree: tree_sitter.Tree, old: bytes, new: bytes, start: int, old_end: int,
           new_end: int) -> tree_sitter.Tree:
    """A copy of `tree` (of `old`) told that `old[start:old_end]` became `new[start:new_end]`."""
    copy = tree.copy()
    copy.edit(start, old_end, new_end, point(old, start), point(old, old_end), point(new, new_end))
    return copy


class Baselines:
    """The last few documents' trees, by language and text (a text is one document version)."""

    def __init__(self, size: int = 8) -> None:
        self._trees: OrderedDict[tuple[str, str], Baseline] = OrderedDict()
        self._slow: OrderedDict[tuple[str, str], str] = OrderedDict()
        """Documents whose parse ran out of time, and why: not tried again per candidate."""
        self._size = size
        self._lock = threading.Lock()

    def get(self, language: Language, document: str) -> Baseline:
        """The document's baseline; raises what parsing raises (`ValueError` if too large)."""
        key = (language.id, document)
        with self._lock:
            found = self._trees.get(key)
            if found is not None:
                self._trees.move_to_end(key)
                return found
            if key in self._slow:
                raise ParseTimeout(self._slow[key])
            recent = [b for b in self._trees.values() if b.language == language][-1:]
        source = encode(document)
        if len(source) > grammars.MAX_PARSE_BYTES:
            raise ValueError(f"{len(source) // 1000} KB is over the syntax check's "
                             f"{grammars.MAX_PARSE_BYTES // 1000} KB")
        try:
            tree = _parse(language, source, _nearby(recent[0], source) if recent else None)
        except ParseTimeout as exc:
            with self._lock:
                self._slow[key] = str(exc)
                while len(self._slow) > self._size:
                    self._slow.popitem(last=False)
            raise
        baseline = Baseline(language, source, tree, error_nodes(tree))
        with self._lock:
            self._trees[key] = baseline
            while len(self._trees) > self._size:
                self._trees.popitem(last=False)
        return baseline


def _nearby(base: Baseline, source: bytes) -> tree_sitter.Tree | None:
    """`base`'s tree edited into `source` when one edit turns one into the other (a keystroke)."""
    head, tail = shared_ends(base.source, source)
    if head + tail < len(source) // 2:
        return None
    return edited(base.tree, base.source, source, head, len(base.source) - tail,
                  len(source) - tail)


def parse_splice(baseline: Baseline, start: int, old_end: int, text: bytes,
                 ) -> tuple[bytes, tree_sitter.Tree]:
    """The spliced document (`baseline.source[start:old_end]` replaced by `text`) and its tree."""
    old = baseline.source
    new = old[:start] + text + old[old_end:]
    tree = edited(baseline.tree, old, new, start, old_end, start + len(text))
    return new, _parse(baseline.language, new, tree)
