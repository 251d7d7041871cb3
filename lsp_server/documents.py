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

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
"""One line with its line break, or the last line without one."""


def split_lines(text: str) -> tuple[str, ...]:
    """The lines of `text`, each with its break, as the Language Server Protocol counts them."""
    return tuple(_LINE.findall(text))


_CODECS = {"utf-8": "utf-8", "utf-16": "utf-16-le"}
"""Python's codec for each LSP position encoding counted in more than one unit a character."""


class FastCodec(PositionCodec):
    """Pygls' position conversions, counted by `str.encode` instead of a loop per character.

    Pygls walks a line one character at a time in Python: on a 5 MB minified file (one
    line) each position took 1.4 s, and every keystroke converts two of them. A line with
    a lone surrogate, which strict codecs refuse, is left to pygls.
    """

    def client_num_units(self, string: str) -> int:
        """The line's length in the negotiated units."""
        units = self._units(string)
        return int(super().client_num_units(string)) if units is None else units

    @property
    def _codec(self) -> str | None:
        return _CODECS.get(str(getattr(self.encoding, "value", self.encoding)))

    def _units(self, string: str) -> int | None:
        codec = self._codec
        if codec is None or string.isascii():
            return len(string)
        try:
            data = string.encode(codec)
        except UnicodeEncodeError:
            return None
        return len(data) // 2 if codec == "utf-16-le" else len(data)

    def position_from_client_units(
        self, lines: Sequence[str], position: types.Position
    ) -> ServerTextPosition:
        """The code-point column of a client position (one inside a character: after it)."""
        if not lines or position.line >= len(lines):
            return super().position_from_client_units(lines, position)
        line = lines[position.line].replace("\r\n", "\n")
        length = self._units(line)
        if length is None:
            return super().position_from_client_units(lines, position)
        # As pygls: a column past the line is the line's last character.
        character = length - 1 if position.character > length else position.character
        codec = self._codec
        if codec is None or line.isascii():
            return ServerTextPosition(position.line, max(character, 0))
        data = line.encode(codec)
        width = 2 if codec == "utf-16-le" else 1
        head = data[: character * width]
        column = len(head.decode(codec, "ignore"))  # whole characters only
        if len(line[:column].encode(codec)) < len(head):
            column += 1
        return ServerTextPosition(position.line, min(column, len(line)))

    def position_to_client_units(
        self, lines: Sequence[str], position: ServerTextPosition | types.Position
    ) -> types.Position:
        """The client position of a code-point position."""
        if position.line >= len(lines):
            return types.Position(line=len(lines), character=0)
        head = lines[position.line][: position.character]
        units = self._units(head)
        if units is None:
            return super().position_to_client_units(lines, position)
        return types.Position(line=position.line, character=units)


class LineDocument(TextDocument):
    r"""A text document whose lines end only at ``\r\n``, ``\r`` or ``\n``."""

    _split: tuple[str, tuple[str, ...]] = ("", ())
    """The text last split and its lines: every position of a request reads them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self._position_codec, FastCodec):
            self._position_codec = FastCodec(self._position_codec.encoding)

    @property
    def lines(self) -> Sequence[str]:
        """The document's lines, each with its line break (split once per text)."""
        source = self.source
        if self._split[0] is not source:
            self._split = (source, split_lines(source))
        return self._split[1]

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
        workspace._position_codec = FastCodec(workspace.position_encoding)
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
