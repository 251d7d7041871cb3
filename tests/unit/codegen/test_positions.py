from __future__ import annotations

import pytest

from codegen.positions import Encoding, PositionError, offset_at, position_at

TEXT = 'a😀b\nxé中\r\nlast'


@pytest.mark.parametrize(
    ("line", "character", "encoding", "offset"),
    [
        (0, 3, "utf-16", 2),  # the emoji is two UTF-16 units
        (0, 5, "utf-8", 2),  # ... four UTF-8 bytes
        (0, 2, "utf-32", 2),  # ... one code point
        (1, 3, "utf-8", 6),  # é is two bytes
        (1, 3, "utf-16", 7),  # end of a CRLF line, before the \r
        (2, 4, "utf-16", 13),  # end of the document
    ],
)
def test_offset_at(line: int, character: int, encoding: Encoding, offset: int) -> None:
    assert offset_at(TEXT, line, character, encoding) == offset
    assert position_at(TEXT, offset, encoding) == (line, character)


@pytest.mark.parametrize(
    ("line", "character", "message"),
    [
        (3, 0, "past the end of the document"),  # one line too far
        (0, 9, "past the end of line 0"),  # beyond the line
        (0, 2, "splits a character"),  # inside the emoji's surrogate pair
        (-1, 0, "negative"),  # negative
    ],
)
def test_positions_outside_the_text_are_errors(line: int, character: int, message: str) -> None:
    with pytest.raises(PositionError, match=message):
        offset_at(TEXT, line, character)
