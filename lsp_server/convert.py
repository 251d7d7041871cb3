"""The only place lsprotocol types meet codegen types."""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import TextDocument

from codegen.positions import position_at
from codegen.testgen.generation import Coverage, TestGenResult
from codegen.types import Candidate, CompletionRequest, Trigger
from lsp_server.config import Settings
from prompts.languages import language_for
from prompts.testgen import uncovered_summary


def from_lsp_position(document: TextDocument, position: types.Position) -> int:
    """Turn a client position into a string offset; a position outside the text is an error."""
    lines = document.lines
    if position.line < 0 or position.character < 0:
        raise JsonRpcInvalidParams(f"negative position {position.line}:{position.character}")
    if position.line > len(lines) or (position.line == len(lines) and position.character > 0):
        raise JsonRpcInvalidParams(
            f"position {position.line}:{position.character} is past the end of {document.uri}"
        )
    if position.line < len(lines):
        line = lines[position.line].rstrip("\r\n")
        width = document.position_codec.client_num_units(line)
        if position.character > width:
            raise JsonRpcInvalidParams(
                f"character {position.character} is past the end of line {position.line} "
                f"({width} units) in {document.uri}"
            )
    return document.offset_at_position(position)


def to_lsp_position(document: TextDocument, offset: int) -> types.Position:
    """Turn a string offset into a position in the negotiated encoding."""
    return document.client_position_at_offset(offset)


def from_lsp_request(
    document: TextDocument,
    position: types.Position,
    settings: Settings,
    trigger: Trigger,
    path: str,
) -> CompletionRequest:
    """Build a protocol-free completion request."""
    return CompletionRequest(
        text=document.source,
        offset=from_lsp_position(document, position),
        path=path,
        language=document.language_id or "",
        n=settings.alternatives,
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        trigger=trigger,
        blocked_output=settings.blocked_output,
    )


def to_lsp_range(document: TextDocument, candidate: Candidate, offset: int) -> types.Range:
    """The single-line range a candidate replaces."""
    return types.Range(to_lsp_position(document, offset), to_lsp_position(document, candidate.end))


GENERATE_TESTS = "vetted.generateTests"
"""Generates unit tests for the function at a position (`features/test_generation.py`)."""

ACCEPTED_COMMAND = "vetted.accepted"
"""Runs after the client inserts an item; its arguments carry the item's verdicts."""


def verdict_summary(candidate: Candidate) -> str:
    """One line of what was checked: ``syntax ✓ · mypy ✓ · tests 3/3 ✓``."""
    parts = []
    for verdict in candidate.verdicts:
        mark = "–" if not verdict.ran else "✓" if verdict.ok else "✗"
        counts = f" {verdict.passed}/{verdict.total}" if verdict.ran and verdict.total else ""
        parts.append(f"{verdict.check}{counts} {mark}")
    return " · ".join(parts)


def verdicts_to_wire(candidate: Candidate) -> dict[str, dict[str, Any]]:
    """Verdicts by check name, as clients receive them (an empty reason and detail left out)."""
    return {v.check: v.as_dict(full=False) for v in candidate.verdicts}


def to_lsp_inline_item(
    document: TextDocument, candidate: Candidate, offset: int, item_id: str = ""
) -> types.InlineCompletionItem:
    """An inline (ghost text) item for one vetted candidate, its verdicts in its command."""
    accepted = types.Command(
        title=verdict_summary(candidate),
        command=ACCEPTED_COMMAND,
        arguments=[{"verdicts": verdicts_to_wire(candidate), "id": item_id}],
    )
    return types.InlineCompletionItem(
        insert_text=candidate.insert,
        range=to_lsp_range(document, candidate, offset),
        command=accepted,
    )


def word_start(text: str, offset: int) -> int:
    """Start of the identifier that ends at `offset` (for completion-menu filtering)."""
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return start


def to_lsp_completion_item(
    document: TextDocument, candidate: Candidate, offset: int, sort_index: int
) -> types.CompletionItem:
    """A completion-menu item whose edit includes the word being typed, so clients can filter."""
    start = word_start(document.source, offset)
    new_text = document.source[start:offset] + candidate.insert
    label = new_text.strip().split("\n", 1)[0] or new_text
    fence = language_for(document.language_id, document.path).id  # Markdown's code language
    edit_range = types.Range(
        to_lsp_position(document, start), to_lsp_position(document, candidate.end)
    )
    return types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Snippet,
        detail=f"vetted: {verdict_summary(candidate)}",
        documentation=types.MarkupContent(
            kind=types.MarkupKind.Markdown,
            value=f"```{fence}\n{new_text}\n```\n\n{verdict_summary(candidate)}",
        ),
        data={"verdicts": verdicts_to_wire(candidate)},
        sort_text=f"{sort_index:04d}",
        filter_text=document.source[start:offset] or None,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=edit_range, new_text=new_text),
    )


def test_generation_edit(uri: str, text: str, result: TestGenResult) -> types.WorkspaceEdit:
    """The edit that writes generated tests into `text` (the test file), or creates the file.

    Imports join the file's own on top, the tests go at its end (`TestGenResult.edits`).
    """

    def position(offset: int) -> types.Position:
        line, character = position_at(text, offset)
        return types.Position(line=line, character=character)

    edits = types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
        edits=[types.TextEdit(range=types.Range(position(e.start), position(e.end)),
                              new_text=e.new_text) for e in result.edits(text)],
    )
    if result.test_file.exists:
        return types.WorkspaceEdit(document_changes=[edits])
    create = types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True))
    return types.WorkspaceEdit(document_changes=[create, edits])


def test_report(result: TestGenResult) -> dict[str, Any]:
    """What test generation did, as the command returns it (camelCase)."""

    def coverage(value: Coverage) -> dict[str, Any]:
        return {"lines": value.lines, "linesTotal": value.lines_total,
                "branches": value.branches, "branchesTotal": value.branches_total,
                "percent": round(value.percent, 1)}

    return {
        "function": result.function,
        "testFile": result.test_file.path,
        "created": not result.test_file.exists,
        "delivered": [
            {"name": t.name, "covers": uncovered_summary(t.new_lines, t.new_branches),
             "source": t.source}
            for t in result.delivered
        ],
        "coverageBefore": coverage(result.before),
        "coverageAfter": coverage(result.after),
        "stillUncovered": uncovered_summary(result.uncovered_lines, result.uncovered_branches),
        "bugs": [{"test": b.test, "example": b.example, "error": b.error, "source": b.source}
                 for b in result.bugs],
        "failingExamples": list(result.failing_examples),
        "rejected": [{"name": r.name, "reason": r.reason} for r in result.rejected],
        "rounds": result.rounds,
    }
