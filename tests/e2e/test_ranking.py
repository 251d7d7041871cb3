"""Vetted alternatives over LSP: the candidate that passes the docstring's examples first."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import path_for, uri_for, write_replay
from tests.e2e.conftest import SERVER, open_document, start_session

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("needs_sandbox")]

RANGES = path_for("ranges.py").read_text(encoding="utf-8")
CURSOR = types.Position(line=8, character=4)


@pytest.mark.parametrize("client_name", ["neovim", "visual_studio_code"])
async def test_the_candidate_that_passes_the_examples_comes_first(
    tmp_path: Path, client_name: str
) -> None:
    # The model likes the wrong answers best; the docstring's examples say otherwise.
    replay = write_replay(
        tmp_path / "clamp.jsonl",
        [
            ("return max(low, value)", -0.1),  # clamp(5, 0, 3) gives 5
            ("return min(value, high)", -0.2),  # clamp(-1, 0, 3) gives -1
            ("return max(low, min(value, high))", -0.9),
        ],
    )
    client = cast(LanguageClient, await SERVER.start())
    try:
        await start_session(client, client_name, {"model": f"replay:{replay}"})
        open_document(client, uri_for("ranges.py"), RANGES)
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
                text_document=types.TextDocumentIdentifier(uri=uri_for("ranges.py")),
                position=CURSOR,
            )
        )
        await client.shutdown_session()
    finally:
        await client.stop()
    # Asserted after the session ends: a failed assert inside it would leave the server up.
    assert isinstance(result, types.InlineCompletionList)
    texts = [item.insert_text for item in result.items]
    # The two that fail an example are never ranked beside the one that passes them.
    assert texts == ["return max(low, min(value, high))"]
    command = result.items[0].command
    assert command is not None and "tests 2/2 ✓" in command.title
    verdicts: dict[str, Any] = command.arguments[0]["verdicts"]  # type: ignore[index]
    assert verdicts["tests"] == {"ok": True, "ran": True, "passed": 2, "total": 2}


async def test_nothing_is_shown_when_every_candidate_fails_the_examples(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "bad.jsonl", [("return low", -0.1), ("return high", -0.2)])
    client = cast(LanguageClient, await SERVER.start())
    try:
        await start_session(client, "neovim", {"model": f"replay:{replay}"})
        open_document(client, uri_for("ranges.py"), RANGES)
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
                text_document=types.TextDocumentIdentifier(uri=uri_for("ranges.py")),
                position=CURSOR,
            )
        )
        assert result == types.InlineCompletionList(items=())
        await client.shutdown_session()
    finally:
        await client.stop()
