"""Hostile candidates beside correct ones through a real inline-completion request.

The replay model offers the hostile body as its likeliest candidate, first or between correct
ones; the editor must be shown correct candidates only, whatever the hostile one did (killed
the test runner, forked without end, held more memory than the run may, planted a module).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import write_replay
from tests.e2e.conftest import SERVER, open_document, start_session
from tests.hostile import HOSTILE, PROMPT, RIGHT, placements

pytestmark = pytest.mark.e2e


def as_output(body: str) -> str:
    """A body as the model writes it at a cursor already indented by four spaces."""
    return body.removeprefix("    ")


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("payload", sorted(HOSTILE))
@pytest.mark.parametrize("place", [0, 1], ids=["first", "middle"])
async def test_an_editor_is_never_shown_a_hostile_candidate(
    tmp_path: Path, payload: str, place: int
) -> None:
    hostile = HOSTILE[payload]
    bodies = placements(hostile)[place][1]
    # The hostile one is the likeliest: only its verdict can keep it from the top.
    outputs: list[tuple[str, float | None]] = [
        (as_output(body), -0.1 if body == hostile else -1.0 - i)
        for i, body in enumerate(bodies)
    ]
    replay = write_replay(tmp_path / "replay.jsonl", outputs)
    document = tmp_path / "double.py"
    document.write_text(PROMPT + "    \n", encoding="utf-8")
    client = cast(LanguageClient, await SERVER.start())
    try:
        await start_session(client, "neovim", {"model": f"replay:{replay}"})
        open_document(client, document.as_uri(), PROMPT + "    \n")
        result = await asyncio.wait_for(client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
                text_document=types.TextDocumentIdentifier(uri=document.as_uri()),
                position=types.Position(line=6, character=4),
            )
        ), timeout=60)
        await client.shutdown_session()
    finally:
        await client.stop()
    # Asserted after the session ends: a failed assert inside it would leave the server up.
    assert isinstance(result, types.InlineCompletionList)
    shown = [str(item.insert_text) for item in result.items]
    right = [as_output(body).splitlines()[0] for body in RIGHT]
    assert shown and as_output(hostile).rstrip("\n") not in shown, shown
    for text in shown:
        # A right body, or the hostile one's harmless first line alone (`import os`), offered
        # as a partial suggestion because its only fault is the return it lacks so far.
        first = text.splitlines()[0]
        assert first in right or (text == first and first.startswith("import ")), shown
