"""The project's Python parser: tree-sitter, incremental from a recent tree.

Prompts (spans, the workspace index) and validators (the syntax check) both parse Python;
this module is where they share the parser without importing each other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import AnyStr

import tree_sitter
import tree_sitter_python


@lru_cache(maxsize=1)
def python_parser() -> tree_sitter.Parser:
    """Return a shared tree-sitter parser for Python."""
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


class _RecentTrees:
    """The last few parse trees, for parsing a text close to one of them incrementally.

    A text that differs from a recent one by one edit (the next keystroke, a candidate
    spliced into the document) reuses that tree's unchanged parts.
    """

    def __init__(self, size: int = 8) -> None:
        self._trees: OrderedDict[bytes, tree_sitter.Tree] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def parse(self, source: bytes) -> tree_sitter.Tree:
        with self._lock:
            tree = self._trees.get(source)
            if tree is not None:
                self._trees.move_to_end(source)
                return tree
            recent = list(self._trees.items())[-3:]
        base = max(recent, key=lambda item: shared_ends(item[0], source), default=None)
        if base is None or sum(shared_ends(base[0], source)) < len(source) // 2:
            tree = python_parser().parse(source)
        else:
            old, old_tree = base
            head, tail = shared_ends(old, source)
            edited = old_tree.copy()
            edited.edit(
                head, len(old) - tail, len(source) - tail,
                _point(old, head), _point(old, len(old) - tail), _point(source, len(source) - tail),
            )
            tree = python_parser().parse(source, edited)
        with self._lock:
            self._trees[source] = tree
            while len(self._trees) > self._size:
                self._trees.popitem(last=False)
        return tree


def shared_ends(a: bytes, b: bytes) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix after it."""
    head = common_prefix(a, b)
    return head, common_suffix(a, b, min(len(a), len(b)) - head)


def common_prefix(a: AnyStr, b: AnyStr, limit: int | None = None) -> int:
    """Length of the common prefix (at most `limit`), by bisection on slice comparisons.

    The comparisons run in C: a keystroke in a large document costs little.
    """
    low, high = 0, min(len(a), len(b), len(a) if limit is None else limit)
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def common_suffix(a: AnyStr, b: AnyStr, limit: int | None = None) -> int:
    """Length of the common suffix (at most `limit`), as `common_prefix` finds a prefix."""
    low, high = 0, min(len(a), len(b), len(a) if limit is None else limit)
    while low < high:
        mid = (low + high + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            low = mid
        else:
            high = mid - 1
    return low


def _point(source: bytes, offset: int) -> tuple[int, int]:
    """Tree-sitter's (row, byte column) of a byte offset."""
    row = source.count(b"\n", 0, offset)
    return row, offset - (source.rfind(b"\n", 0, offset) + 1)


_TREES = _RecentTrees()


def parse_python(source: str) -> tree_sitter.Tree:
    """Parse Python with tree-sitter, incrementally from a recent tree when one is close."""
    return _TREES.parse(source.encode("utf-8"))
