"""Line/character positions in UTF-16, UTF-8 or UTF-32 units to string offsets and back."""

from __future__ import annotations

from typing import Literal

Encoding = Literal["utf-16", "utf-8", "utf-32"]


class PositionError(ValueError):
    """A position that does not exist in the document."""


def _units(char: str, encoding: Encoding) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    return 2 if ord(char) > 0xFFFF else 1


def offset_at(text: str, line: int, character: int, encoding: Encoding = "utf-16") -> int:
    """Return the string index of a 0-based (line, character) position; raise if it is outside."""
    if line < 0 or character < 0:
        raise PositionError(f"negative position {line}:{character}")
    lines = text.split("\n")
    if line >= len(lines):
        raise PositionError(f"line {line} is past the end of the document ({len(lines)} lines)")
    start = sum(len(row) + 1 for row in lines[:line])
    row = lines[line].removesuffix("\r")
    units = 0
    for index, char in enumerate(row):
        if units >= character:
            if units > character:
                raise PositionError(f"character {character} splits a character on line {line}")
            return start + index
        units += _units(char, encoding)
    if units == character:
        return start + len(row)
    raise PositionError(f"character {character} is past the end of line {line} ({units} units)")


def position_at(text: str, offset: int, encoding: Encoding = "utf-16") -> tuple[int, int]:
    """Return the 0-based (line, character) of a string index."""
    if not 0 <= offset <= len(text):
        raise PositionError(f"offset {offset} outside the document")
    before = text[:offset]
    line = before.count("\n")
    row = before[before.rfind("\n") + 1 :]
    return line, sum(_units(char, encoding) for char in row)
