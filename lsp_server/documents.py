r"""Documents as editors count their lines: only ``\r\n``, ``\r`` and ``\n`` end one.

pygls splits a document with `str.splitlines`, which also breaks at form feed, ``\v``,
``\x1c``–``\x1e``, ``\x85``, U+2028 and U+2029: every position after such a character, and
every incremental edit there, lands on another line than the editor meant. And it puts the
end of a document without a final newline on a line past the last one. `LineDocument`
fixes both; `LineWorkspace` makes every document of the server one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import ServerTextPosition

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
"""One line with its line break, or the last line without one."""


def split_lines(text: str) -> tuple[str, ...]:
    """The lines of `text`, each with its break, as the Language Server Protocol counts them."""
    return tuple(_LINE.findall(text))


class LineDocument(TextDocument):
    r"""A text document whose lines end only at ``\r\n``, ``\r`` or ``\n``."""

    @property
    def lines(self) -> Sequence[str]:
        """The document's lines, each with its line break."""
        return split_lines(self.source)

    def server_position_at_offset(self, offset: int) -> ServerTextPosition:
        """The line and code-point column of an index into the text.

        The end of a last line without a newline stays on that line.
        """
        remaining = offset
        lines = self.lines
        for number, line in enumerate(lines):
            if remaining < len(line):
                return ServerTextPosition(number, remaining)
            remaining -= len(line)
        if lines and not lines[-1].endswith(("\n", "\r")):
            return ServerTextPosition(len(lines) - 1, len(lines[-1]))
        return ServerTextPosition(len(lines), 0)


class LineWorkspace(Workspace):
    """A workspace whose text documents are `LineDocument`s."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LineDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


def as_line_workspace(workspace: Any) -> Any:
    """The same workspace, creating `LineDocument`s from now on (before any is opened)."""
    if isinstance(workspace, Workspace) and not isinstance(workspace, LineWorkspace):
        workspace.__class__ = LineWorkspace
    return workspace


def document_of(workspace: Workspace, uri: str) -> TextDocument:
    """The open document at `uri`, or the file there read from disk.

    A URI that is neither open nor a readable text file is the client's error (-32602 with
    the reason), not the server's.
    """
    document = workspace.get_text_document(uri)
    try:
        document.source  # noqa: B018 - reads a document that is not open from disk
    except (OSError, UnicodeDecodeError) as exc:
        raise JsonRpcInvalidParams(f"{uri} is not open and cannot be read: {exc}") from None
    return document
