"""The shared signature of post-processing filters and the context they read."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from codegen.types import Candidate
from prompts.languages import PYTHON, Language


@dataclass(frozen=True)
class FilterContext:
    """What a filter may know about the request: the document, cursor and decided scope."""

    text: str
    """The whole document before the completion."""
    offset: int
    """Cursor index into `text`."""
    single_line: bool
    """True when the completion must stay on the cursor's line (`scope.is_single_line`)."""
    statement: bool = False
    """True when the completion is one statement: its first line, and its body when that
    line opens a block (`scope.completion_scope`: code of the same block follows)."""
    line_above: bool = False
    """True at column 0 of a line with code: the completion is a new line above it and keeps
    its newline (`scope.inserts_line_above`)."""
    indent_unit: str = "    "
    """The file's indentation step ("    ", "  " or "\\t")."""
    blocked: tuple[re.Pattern[str], ...] = ()
    """The user's block list: suggestions matching one are never shown."""
    language: Language = PYTHON
    """The document's language: its comments, strings and how its blocks end."""

    @cached_property
    def prefix(self) -> str:
        """Text before the cursor."""
        return self.text[: self.offset]

    @cached_property
    def suffix(self) -> str:
        """Text after the cursor."""
        return self.text[self.offset :]

    @cached_property
    def line_prefix(self) -> str:
        """Text from the start of the cursor's line to the cursor."""
        return self.prefix[self.prefix.rfind("\n") + 1 :]

    @cached_property
    def line_suffix(self) -> str:
        """Text from the cursor to the end of its line, without the newline."""
        return self.suffix.split("\n", 1)[0]


Filter = Callable[[Candidate, FilterContext], Candidate | None]
"""A post-processing step: return the candidate (changed with `replace`) or None to drop it."""
