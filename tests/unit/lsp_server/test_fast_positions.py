"""Positions converted by `FastCodec` are pygls' own, in every encoding, however long the line."""

from __future__ import annotations

import time

import pytest
from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from lsp_server.convert import from_lsp_position, to_lsp_position
from lsp_server.documents import FastCodec, LineDocument

LINES = [
    "",
    "abc\n",
    "x = 'é中😀z'\n",  # two-, three- and four-byte characters, one astral
    "😀😀 tail\r\n",
    "plain ascii without newline",
    "\ud800 lone surrogate\n",  # refused by strict codecs: pygls' own loop decides
]
ENCODINGS = [types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16,
             types.PositionEncodingKind.Utf32]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("line", LINES)
def test_every_column_converts_as_pygls_does(line: str, encoding: str) -> None:
    fast, slow = FastCodec(encoding), PositionCodec(encoding)
    lines = [line, "next\n"]
    width = slow.client_num_units(line)
    assert fast.client_num_units(line) == width
    for character in range(width + 3):  # past the end too
        position = types.Position(0, character)
        assert fast.position_from_client_units(lines, position) == (
            slow.position_from_client_units(lines, types.Position(0, character))
        ), character
    for column in range(len(line) + 1):
        server = types.Position(0, column)
        assert fast.position_to_client_units(lines, server) == (
            slow.position_to_client_units(lines, server)
        )


def test_a_five_megabyte_line_converts_in_milliseconds() -> None:
    text = "function f(a){return a+1};var x='😀';" * 130_000
    document = LineDocument("file:///big.min.js", text, version=1,
                            sync_kind=types.TextDocumentSyncKind.Incremental)
    middle = types.Position(0, 2_500_000)
    started = time.perf_counter()
    offset = from_lsp_position(document, middle)
    assert to_lsp_position(document, offset) == middle
    document.apply_change(types.TextDocumentContentChangePartial(
        range=types.Range(middle, middle), text="x"))
    assert document.source[offset] == "x"
    assert time.perf_counter() - started < 0.5
