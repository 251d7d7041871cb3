"""Typing what the suggestion shows: the next request is answered from it, over stdio."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import path_for, uri_for
from tests.e2e.conftest import CLIENTS, SERVER, open_document, start_session, status

pytestmark = pytest.mark.e2e

RANGES = path_for("ranges.py").read_text(encoding="utf-8")
RANGES_URI = uri_for("ranges.py")


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def sampling_client(lsp_client: LanguageClient, request: pytest.FixtureRequest) -> Any:
    """The tiny random model, sampling (its greedy choice is an end token at once), unvetted:
    its text is noise, and these tests are about which text the user gets."""
    await start_session(
        lsp_client,
        request.param,
        {
            "model": "random:tiny", "device": "cpu", "temperature": 1.0, "alternatives": 1,
            "maxNewTokens": 12, "validators": {"syntax": False, "mypy": False, "tests": False},
            "suggestions": {"eagerness": "eager"},  # noise is never confident
        },
    )
    yield
    await lsp_client.shutdown_session()


def units(text: str, encoding: str) -> int:
    """Length of `text` in the negotiated position encoding's units."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


async def suggest(client: LanguageClient, line: int, character: int) -> list[str]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
            text_document=types.TextDocumentIdentifier(uri=RANGES_URI),
            position=types.Position(line=line, character=character),
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    return [str(item.insert_text) for item in result.items]


async def test_typing_the_suggestion_answers_from_it(sampling_client: LanguageClient) -> None:
    encoding = str((await status(sampling_client))["positionEncoding"])
    lines = RANGES.splitlines()
    line = len(lines) - 1  # the body of clamp, still to be written
    character = units(lines[line], encoding)
    open_document(sampling_client, RANGES_URI, RANGES)
    [shown] = await suggest(sampling_client, line, character)
    assert len(shown) >= 3
    typed = shown[:2]
    sampling_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=RANGES_URI, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        types.Position(line, character), types.Position(line, character)
                    ),
                    text=typed,
                )
            ],
        )
    )
    after = await suggest(sampling_client, line, character + units(typed, encoding))
    assert after == [shown[2:]]
    last = (await status(sampling_client))["lastRequest"]
    assert last["source"] == "type-through"
    assert (await status(sampling_client))["runtime"]["typeThrough"]["answered"] == 1
