"""Over LSP: the server hears what becomes of its suggestions, gets quieter after
rejections, never re-offers a rejected suggestion, and has the next one ready after an accept.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import uri_for, write_replay
from tests.e2e.conftest import CLIENTS, SERVER, open_document, plain, start_session, status

pytestmark = pytest.mark.e2e

URI = uri_for("signals.py")
SOURCE = "".join(f"def f{i}(a, b):\n    \n\n" for i in range(7))
"""Seven functions with empty bodies: seven places to suggest at."""


def body(index: int) -> types.Position:
    return types.Position(line=3 * index + 1, character=4)


@pytest.fixture
def unsure_replay(tmp_path: Path) -> Path:
    """One suggestion, -0.88 per token: shown at the normal level, held back when subtle."""
    return write_replay(tmp_path / "replay.jsonl", [("return a + b", -3.0), ("return b + a", -3.5)])


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest,
                 unsure_replay: Path) -> Any:
    await start_session(lsp_client, request.param, {"model": f"replay:{unsure_replay}"})
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


async def inline(client: LanguageClient, position: types.Position, invoked: bool = False,
                 uri: str = URI) -> list[types.InlineCompletionItem]:
    kind = (types.InlineCompletionTriggerKind.Invoked if invoked
            else types.InlineCompletionTriggerKind.Automatic)
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=kind),
        text_document=types.TextDocumentIdentifier(uri=uri), position=position))
    assert isinstance(result, types.InlineCompletionList)
    return list(result.items)


def wire(item: types.InlineCompletionItem) -> dict[str, Any]:
    """The item as a client sends it back."""
    assert item.command is not None
    return {"insertText": item.insert_text,
            "command": {"title": item.command.title, "command": item.command.command,
                        "arguments": plain(item.command.arguments)}}


async def signals(client: LanguageClient) -> dict[str, Any]:
    found: dict[str, Any] = (await status(client))["signals"]
    return found


async def test_repeated_rejections_make_the_server_quieter(client: LanguageClient) -> None:
    assert (await signals(client))["level"] == "normal"
    for index in range(5):
        items = await inline(client, body(index))
        assert [i.insert_text for i in items][:1] == ["return a + b"]
        client.protocol.notify("vetted/didDismissCompletion", {"item": wire(items[0])})
    heard = await signals(client)
    assert (heard["shown"], heard["rejected"], heard["level"]) == (5, 5, "subtle")
    # The same suggestion at a new place is now held back: too unsure for a subtle server...
    assert await inline(client, body(5)) == []
    # ...unless the user asks for it.
    asked = await inline(client, body(5), invoked=True)
    assert asked and asked[0].insert_text == "return a + b"


async def test_a_rejected_suggestion_is_not_offered_there_again(client: LanguageClient) -> None:
    [first, second] = await inline(client, body(0))
    client.protocol.notify("textDocument/didShowCompletion", {"item": wire(second)})
    client.protocol.notify("vetted/didDismissCompletion", {"item": wire(second)})
    await signals(client)  # the notifications are handled in order, before this request
    again = await inline(client, body(0), invoked=True)
    assert [i.insert_text for i in again] == [first.insert_text]
    elsewhere = await inline(client, body(1))
    assert {i.insert_text for i in elsewhere} == {first.insert_text, second.insert_text}


async def test_accepts_whole_and_in_parts_are_counted(noisy: LanguageClient) -> None:
    open_document(noisy, URI, SOURCE)
    before, after = SOURCE[: SOURCE.index("\n    \n") + 5], SOURCE[SOURCE.index("\n    \n") + 5:]
    [item] = await inline(noisy, body(0))
    shown = str(item.insert_text)
    assert len(shown) >= 3  # twelve sampled tokens
    noisy.protocol.notify("textDocument/didShowCompletion", {"item": wire(item)})
    # "Accept next word": the editor inserts the first part, then reports its length.
    part = shown[:2]
    change(noisy, URI, before + part + after, 2)
    noisy.protocol.notify("textDocument/didPartiallyAcceptCompletion",
                          {"item": wire(item), "acceptedLength": units(part)})
    head = (before + part).split("\n")
    [rest] = await inline(noisy, types.Position(line=len(head) - 1, character=units(head[-1])))
    assert rest.insert_text == shown[2:]  # the rest of it, from memory
    assert (await status(noisy))["lastRequest"]["source"] == "type-through"
    await accept(noisy, rest, before + part, after, 3)
    heard = await signals(noisy)
    assert (heard["shown"], heard["accepted"], heard["rejected"]) == (1, 1, 0)
    assert heard["acceptanceRate"] == 1.0


def change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    """Replace the whole document, as a client with full sync would."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


NOISE = {"model": "random:tiny", "device": "cpu", "temperature": 1.0, "alternatives": 1,
         "maxNewTokens": 12, "validators": {"syntax": False, "mypy": False, "tests": False},
         "suggestions": {"eagerness": "eager"}}
"""The tiny random model sampling noise, unvetted: these tests are about which text comes
from where, and it runs the real model path (prompt, engine, decoding)."""


@pytest_lsp.fixture(params=["visual_studio_code"], config=SERVER)
async def noisy(lsp_client: LanguageClient) -> Any:
    await start_session(lsp_client, "visual_studio_code", NOISE)
    yield
    await lsp_client.shutdown_session()


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def settled_prefetch(client: LanguageClient, started: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        found: dict[str, Any] = (await status(client))["prefetch"]
        if found["started"] >= started and found["running"] == 0:
            return found
        assert time.monotonic() < deadline, f"prefetch never finished: {found}"
        await asyncio.sleep(0.05)


async def accept(client: LanguageClient, item: types.InlineCompletionItem, before: str,
                 after: str, version: int) -> tuple[str, types.Position]:
    """Insert `item` as an editor does on Tab; the document and the cursor after it."""
    text = before + str(item.insert_text) + after
    change(client, URI, text, version)
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="vetted.accepted", arguments=plain(item.command.arguments)))  # type: ignore[union-attr]
    head = (before + str(item.insert_text)).split("\n")
    return text, types.Position(line=len(head) - 1, character=units(head[-1]))


async def test_after_an_accept_the_next_suggestion_is_ready(noisy: LanguageClient) -> None:
    open_document(noisy, URI, SOURCE)
    before, after = SOURCE[: SOURCE.index("\n    \n") + 5], SOURCE[SOURCE.index("\n    \n") + 5:]
    [item] = await inline(noisy, body(0))
    await settled_prefetch(noisy, 1)
    text, cursor = await accept(noisy, item, before, after, 2)
    [follow] = await inline(noisy, cursor)
    done = await status(noisy)
    assert done["lastRequest"]["source"] == "prefetch"
    assert done["prefetch"]["served"] == 1
    assert done["signals"]["accepted"] == 1
    # And the one after that was prefetched in turn: accepting again is answered at once.
    await settled_prefetch(noisy, 2)
    offset = len(before) + len(str(item.insert_text))
    _, cursor = await accept(noisy, follow, text[:offset], text[offset:], 3)
    await inline(noisy, cursor)
    assert (await status(noisy))["prefetch"]["served"] == 2


async def test_typing_elsewhere_cancels_the_prefetch(noisy: LanguageClient) -> None:
    open_document(noisy, URI, SOURCE)
    await inline(noisy, body(0))
    await inline(noisy, body(3))  # the user went elsewhere: its own request runs
    done = await status(noisy)
    assert done["lastRequest"]["source"] == "model"
    assert done["prefetch"]["served"] == 0


@pytest_lsp.fixture(params=["neovim"], config=SERVER)
async def unprefetched(lsp_client: LanguageClient) -> Any:
    await start_session(lsp_client, "neovim", {**NOISE, "suggestions": {
        "eagerness": "eager", "prefetch": False}})
    yield
    await lsp_client.shutdown_session()


async def test_prefetch_can_be_switched_off(unprefetched: LanguageClient) -> None:
    open_document(unprefetched, URI, SOURCE)
    before, after = SOURCE[: SOURCE.index("\n    \n") + 5], SOURCE[SOURCE.index("\n    \n") + 5:]
    [item] = await inline(unprefetched, body(0))
    _, cursor = await accept(unprefetched, item, before, after, 2)
    await inline(unprefetched, cursor)
    done = await status(unprefetched)
    assert done["prefetch"]["started"] == 0
    assert done["lastRequest"]["source"] == "model"
