"""Recent edits as the model reads them: compact diff hunks of the documents being edited.

Copilot, Zed's Zeta and Cursor show their models what the user changed last, because an
edit predicts the next one (a renamed parameter, a new field used further down). This
module is the protocol-free part: `EditRecorder` is told each version of each open
document, merges the keystrokes of one region into one pending edit, turns a finished edit
into unified-diff hunks (difflib on lines, `CONTEXT_LINES` of context), keeps the last
`max_hunks`, and `render_edits` writes the newest that fit a character budget as one diff,
most recent last, for a context section named `RECENT_EDITS_PATH` nearest the current file.

Lines that hold a secret (`prompts.secrets`) never enter a hunk, removed or added. The edit
being typed at the cursor is left out: the prompt holds its result already, and a section
that changed with every keystroke would make the model read the whole prompt again each
time (the section comes before the current file).
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from prompts._parse import common_prefix, common_suffix
from prompts.secrets import find_secrets

RECENT_EDITS_PATH = ".vetted/recent_edits.diff"
"""The section's name in the prompt: a diff file the model reads like any other."""
CONTEXT_LINES = 1
"""Unchanged lines shown around each change (git shows 3; one is enough to place it)."""
MERGE_LINES = 1
"""A change this many lines or fewer from the pending edit of its document joins it;
one further away finishes that edit. Typing a line, and pressing Enter to start the next,
stays one edit; the next statement three lines down is another."""
MAX_LINE_CHARS = 160
"""Longer lines are cut (a minified file's single line would fill the budget)."""
MAX_HUNK_LINES = 16
"""A hunk shows at most this many lines, its first ones (a paste is recognised by its head)."""
MAX_DOCUMENT_CHARS = 1024 * 1024
"""Larger documents are not recorded: every version would be compared whole."""
_OTHER_BREAKS = re.compile("[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
"""Characters other than a newline where `str.splitlines` breaks a line."""


@dataclass(frozen=True)
class Hunk:
    """One change of one document, in unified-diff form."""

    path: str
    old_start: int
    """1-based first line of the hunk in the version before the edit."""
    new_start: int
    """1-based first line of the hunk in the version after it."""
    lines: tuple[str, ...]
    """Each line with its mark: ``' '`` unchanged, ``'-'`` removed, ``'+'`` added."""
    group: str = ""
    """What the document's edits are shown to (its language family): see `EditRecorder.hunks`."""
    seq: int = 0
    """When the edit last changed: larger is more recent."""

    def text(self) -> str:
        """The hunk as a unified diff writes it, header line first."""
        old = sum(line[0] != "+" for line in self.lines)
        new = sum(line[0] != "-" for line in self.lines)
        header = f"@@ -{self.old_start},{old} +{self.new_start},{new} @@\n"
        return header + "".join(line + "\n" for line in self.lines)


@dataclass
class _Document:
    """What the recorder knows of one open document."""

    path: str
    group: str
    text: str
    base: str | None = None
    """The text before the pending edit began; None when no edit is pending."""
    start: int = 0
    """First line (0-based, in `text`) that the pending edit may have changed."""
    end: int = 0
    """Line after the last one it may have changed."""
    seq: int = 0
    cache: tuple[str, tuple[Hunk, ...]] | None = field(default=None, repr=False)
    """The pending edit's hunks for one `text`, computed once per version."""

    def pending(self) -> tuple[Hunk, ...]:
        """The hunks of the pending edit (none when it was undone)."""
        if self.base is None:
            return ()
        if self.cache is None or self.cache[0] is not self.text:
            hunks = diff_hunks(self.path, self.base, self.text, self.start, self.end,
                               self.group, self.seq)
            self.cache = (self.text, tuple(hunks))
        return self.cache[1]


class EditRecorder:
    """The last edits of a set of documents, each version told by `opened` and `changed`.

    Keys are whatever identifies a document to the caller (an LSP server uses its URI).
    Not thread-safe: call it from one thread (an LSP server's event loop).
    """

    def __init__(self, max_hunks: int = 16) -> None:
        """Keep at most `max_hunks` finished hunks, dropping the oldest."""
        self._documents: dict[str, _Document] = {}
        self._history: deque[Hunk] = deque(maxlen=max_hunks)
        self._clock = itertools.count(1)

    def opened(self, key: str, path: str, text: str, group: str = "") -> None:
        """Start recording a document at its opening version (which is no edit)."""
        self.closed(key)
        if len(text) <= MAX_DOCUMENT_CHARS:
            self._documents[key] = _Document(path, group, text)

    def changed(self, key: str, text: str) -> None:
        """Record a document's new version (after one change or several)."""
        document = self._documents.get(key)
        if document is None:
            return  # never opened, or too large when it was
        if len(text) > MAX_DOCUMENT_CHARS:
            self.closed(key)
            return
        old = document.text
        if text == old:
            return
        change = changed_lines(old, text)
        if not _joins(document, change):
            self._finish(document)
            document.base, document.start, document.end = old, change.first, change.new_last + 1
        document.text = text
        document.seq = next(self._clock)

    def closed(self, key: str) -> None:
        """Stop recording a document; its edits stay among the recent ones."""
        document = self._documents.pop(key, None)
        if document is not None:
            self._finish(document)

    def hunks(self, group: str, exclude: tuple[str, int] | None = None) -> list[Hunk]:
        """The recent hunks of documents in `group`, oldest first.

        `exclude` is the document and 0-based line of the cursor: that document's pending
        edit is left out when the cursor is in it or on a line next to it (it is being
        typed, and the prompt shows its result).
        """
        found = [hunk for hunk in self._history if hunk.group == group]
        for key, document in self._documents.items():
            if document.group != group or document.base is None:
                continue
            if exclude is not None and key == exclude[0]:
                if document.start - 1 <= exclude[1] <= document.end:
                    continue
            found += document.pending()
        return sorted(found, key=lambda hunk: hunk.seq)  # stable: a document's in line order

    def _finish(self, document: _Document) -> None:
        """Move the document's pending edit into the history."""
        self._history.extend(document.pending())
        document.base, document.cache = None, None


class LineChange(NamedTuple):
    """Where two versions of a text differ, in 0-based lines."""

    first: int
    """The first changed line; the lines before it are the same in both versions."""
    old_last: int
    """The last changed line of the old version; the lines after it are the same..."""
    new_last: int
    """...as those after this last changed line of the new version."""
    slide: int
    """The same change could as well be placed this many lines further down (a line break
    typed among blank lines); `first` is its highest placement."""


def changed_lines(old: str, new: str) -> LineChange:
    """Where two versions differ (`LineChange`)."""
    limit = min(len(old), len(new))
    suffix = common_suffix(old, new, limit)
    prefix = common_prefix(old, new, limit - suffix)
    first = old.count("\n", 0, prefix)
    old_last = first + old.count("\n", prefix, len(old) - suffix)
    new_last = first + new.count("\n", prefix, len(new) - suffix)
    if prefix + suffix < limit:  # text replaced: this is the only placement
        return LineChange(first, old_last, new_last, 0)
    # Text only inserted or only deleted: it could start as far down as the longest prefix.
    lowest = old.count("\n", 0, common_prefix(old, new, limit))
    return LineChange(first, old_last, new_last, lowest - first)


def _joins(document: _Document, change: LineChange) -> bool:
    """Widen the document's pending edit by `change` if it is near; False if not (or none)."""
    if document.base is None:
        return False
    span = change.old_last - change.first
    # Of the change's placements (a line break typed among blank lines could be on any of
    # them), the nearest.
    first = max(change.first, document.start - MERGE_LINES - span)
    if first > min(change.first + change.slide, document.end - 1 + MERGE_LINES):
        return False
    grown = change.new_last - change.old_last
    document.start = min(document.start, first)
    document.end = max(document.end + grown, first + span + grown + 1)
    return True


def diff_hunks(path: str, old: str, new: str, start: int = 0, end: int | None = None,
               group: str = "", seq: int = 0) -> list[Hunk]:
    """The hunks that turn `old` into `new`, without the lines that hold a secret.

    `start` and `end` bound the lines of `new` that may differ (the others equal those of
    `old` before and after them); only that window and its context are compared.
    """
    old_lines, new_lines = _lines(old), _lines(new)
    end = len(new_lines) if end is None else min(end, len(new_lines))
    old_end = len(old_lines) - (len(new_lines) - end)
    low = max(0, start - CONTEXT_LINES)
    old_window = old_lines[low : min(len(old_lines), old_end + CONTEXT_LINES)]
    new_window = new_lines[low : min(len(new_lines), end + CONTEXT_LINES)]
    old_secret = _secret_rows(old_window)
    new_secret = _secret_rows(new_window)
    matcher = difflib.SequenceMatcher(None, old_window, new_window, autojunk=False)
    hunks = []
    for opcodes in matcher.get_grouped_opcodes(CONTEXT_LINES):
        if all(tag == "equal" for tag, *_ in opcodes):
            continue
        lines: list[str] = []
        for tag, i1, i2, j1, j2 in opcodes:
            if tag == "equal":
                lines += [" " + _cut(new_window[j]) for j in range(j1, j2) if j not in new_secret]
                continue
            lines += ["-" + _cut(old_window[i]) for i in range(i1, i2) if i not in old_secret]
            lines += ["+" + _cut(new_window[j]) for j in range(j1, j2) if j not in new_secret]
        if any(line[0] != " " for line in lines):
            _, i1, _, j1, _ = opcodes[0]
            hunks.append(Hunk(path, low + i1 + 1, low + j1 + 1,
                              tuple(lines[:MAX_HUNK_LINES]), group, seq))
    return hunks


def _lines(text: str) -> list[str]:
    """The lines of `text` without their breaks; none after a final newline."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return lines[:-1] if not lines[-1] else lines


def _secret_rows(lines: Sequence[str]) -> set[int]:
    """0-based rows of `lines` that hold a secret (a private key's block as a whole)."""
    # `find_secrets` numbers lines as `str.splitlines` splits them: other breaks would
    # shift its numbers off these rows.
    text = "\n".join(_OTHER_BREAKS.sub(" ", line) for line in lines)
    return {finding.line - 1 for finding in find_secrets(text)}


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"


def render_edits(hunks: Iterable[Hunk], max_chars: int) -> str:
    """The newest hunks that fit in `max_chars`, as one unified diff, most recent last.

    Successive hunks of one file share its ``---``/``+++`` header. The oldest hunks are
    dropped first; the newest one alone over the budget is cut to its first lines.
    """
    newest_first = list(hunks)[::-1]
    kept: list[Hunk] = []
    for hunk in newest_first:
        if len(_diff([hunk, *kept])) <= max_chars:
            kept.insert(0, hunk)
            continue
        if not kept:
            for size in range(len(hunk.lines) - 1, 0, -1):
                head = Hunk(hunk.path, hunk.old_start, hunk.new_start, hunk.lines[:size],
                            hunk.group, hunk.seq)
                if any(line[0] != " " for line in head.lines) and \
                        len(_diff([head])) <= max_chars:
                    kept = [head]
                    break
        break
    return _diff(kept)


def _diff(hunks: Sequence[Hunk]) -> str:
    parts: list[str] = []
    path = None
    for hunk in hunks:
        if hunk.path != path:
            path = hunk.path
            parts.append(f"--- a/{path}\n+++ b/{path}\n")
        parts.append(hunk.text())
    return "".join(parts)


def budget_chars(max_prompt_tokens: int) -> int:
    """Characters of recent edits a prompt of `max_prompt_tokens` shows.

    About a quarter of the prompt at 3 characters a token (Qwen's rate on code and diffs),
    so that as the section nearest the file it fits in the other files' share
    (`FimTemplate.context_share`, 35 %) whole: the template would keep its head, and the
    newest edits are at its end.
    """
    return max_prompt_tokens * 3 // 4
