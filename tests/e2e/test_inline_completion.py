"""textDocument/inlineCompletion and textDocument/completion over stdio, as editors send them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities

from tests.conftest import path_for, uri_for, write_replay
from tests.e2e.conftest import (
    CLIENTS,
    SERVER,
    open_document,
    plain,
    send_raw_request,
    start_session,
    status,
    wait_for_state,
)

pytestmark = pytest.mark.e2e

ARITH = path_for("arith.py").read_text(encoding="utf-8")
ARITH_URI = uri_for("arith.py")


def inline_params(line: int, character: int, invoked: bool = False) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else (
        types.InlineCompletionTriggerKind.Automatic
    )
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=kind),
        text_document=types.TextDocumentIdentifier(uri=ARITH_URI),
        position=types.Position(line=line, character=character),
    )


async def test_capabilities_advertised(replay_client: LanguageClient) -> None:
    capabilities = replay_client.initialize_result.capabilities  # type: ignore[attr-defined]
    assert capabilities.inline_completion_provider is not None
    assert capabilities.completion_provider is not None
    assert capabilities.text_document_sync.change == types.TextDocumentSyncKind.Incremental


async def test_inline_completion_shows_vetted_candidates(replay_client: LanguageClient) -> None:
    open_document(replay_client, ARITH_URI, ARITH)
    result = await replay_client.text_document_inline_completion_async(inline_params(2, 4))
    assert isinstance(result, types.InlineCompletionList)
    cursor = types.Range(types.Position(2, 4), types.Position(2, 4))
    # "return a +" breaks the syntax and is discarded; the fence is stripped from the other.
    assert [(i.insert_text, i.range) for i in result.items] == [
        ("return a + b", cursor),
        ("return b + a", cursor),
    ]
    # Each item carries its verdicts: the syntax passed; add() has no examples to run.
    for item in result.items:
        assert item.command is not None and item.command.command == "vetted.accepted"
        assert item.command.title.startswith("syntax ✓")
        verdicts = plain(item.command.arguments)[0]["verdicts"]
        assert verdicts["syntax"] == {"ok": True, "ran": True}
        assert verdicts["tests"]["ran"] is False


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def name_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path: Path
) -> Any:
    """A session whose model answers `name`: the end of greet()'s `... + ` line."""
    replay = write_replay(tmp_path / "name.jsonl", [("name", -0.1)])
    lsp_client.initialize_result = await start_session(  # type: ignore[attr-defined]
        lsp_client, request.param, {"model": f"replay:{replay}"}
    )
    yield
    await lsp_client.shutdown_session()


async def test_range_counts_in_the_negotiated_encoding(name_client: LanguageClient) -> None:
    """A line with an emoji and CJK text: the range must be in the client's units."""
    line = ARITH.splitlines()[5]
    encoding = name_client.initialize_result.capabilities.position_encoding  # type: ignore[attr-defined]
    units = {"utf-8": len(line.encode("utf-8")), "utf-32": len(line)}.get(
        str(encoding), len(line.encode("utf-16-le")) // 2
    )
    assert units < len(line.encode("utf-8")) or str(encoding) == "utf-8"
    open_document(name_client, ARITH_URI, ARITH)
    result = await name_client.text_document_inline_completion_async(inline_params(5, units))
    assert isinstance(result, types.InlineCompletionList)
    cursor = types.Range(types.Position(5, units), types.Position(5, units))
    assert [(item.insert_text, item.range) for item in result.items] == [("name", cursor)]


async def test_completion_menu_fallback(replay_client: LanguageClient) -> None:
    open_document(replay_client, ARITH_URI, ARITH)
    result = await replay_client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=ARITH_URI),
            position=types.Position(line=2, character=4),
        )
    )
    assert isinstance(result, types.CompletionList)
    edits = [item.text_edit for item in result.items]
    cursor = types.Range(types.Position(2, 4), types.Position(2, 4))
    assert edits == [
        types.TextEdit(range=cursor, new_text="return a + b"),
        types.TextEdit(range=cursor, new_text="return b + a"),
    ]


async def test_malformed_params_get_an_error_and_the_server_keeps_serving(
    replay_client: LanguageClient,
) -> None:
    open_document(replay_client, ARITH_URI, ARITH)
    with pytest.raises(JsonRpcException) as caught:
        await send_raw_request(
            replay_client, types.TEXT_DOCUMENT_INLINE_COMPLETION, {"position": "x"}
        )
    assert "-32602" in str(caught.value) or "Invalid Params" in str(caught.value)
    result = await replay_client.text_document_inline_completion_async(inline_params(2, 4))
    assert isinstance(result, types.InlineCompletionList) and result.items


@pytest.mark.parametrize(
    "position",
    [
        types.Position(line=40, character=0),  # past the last line
        types.Position(line=2, character=99),  # past the end of a line
    ],
)
async def test_position_outside_the_document_is_an_error(
    replay_client: LanguageClient, position: types.Position
) -> None:
    open_document(replay_client, ARITH_URI, ARITH)
    params = inline_params(position.line, position.character)
    with pytest.raises(JsonRpcException, match="past the end"):
        await replay_client.text_document_inline_completion_async(params)
    assert (await status(replay_client))["state"] == "ready"


async def test_cancel_stops_generation(tiny_client: LanguageClient) -> None:
    open_document(tiny_client, ARITH_URI, ARITH)
    pending = asyncio.ensure_future(
        tiny_client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(2, 4, invoked=True), msg_id="slow"
        )
    )
    deadline = time.monotonic() + 30
    while (await status(tiny_client))["activeGenerations"] == 0:
        assert time.monotonic() < deadline, "generation never started"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert not pending.done(), "tiny model finished 2048 tokens too soon to test cancellation"
    cancelled_at = time.monotonic()
    tiny_client.cancel_request(types.CancelParams(id="slow"))
    with pytest.raises(JsonRpcException) as caught:
        await asyncio.wait_for(pending, timeout=5)
    assert time.monotonic() - cancelled_at < 0.2
    assert "-32800" in str(caught.value) or "cancel" in str(caught.value).lower()
    while (await status(tiny_client))["activeGenerations"] != 0:
        assert time.monotonic() - cancelled_at < 1.0, "generation thread still running"
        await asyncio.sleep(0.02)


async def test_tiny_model_answers_through_the_real_code_path(tiny_client: LanguageClient) -> None:
    """Random weights give noise; what matters is a well-formed answer within the limits."""
    tiny_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"vetted": {"maxNewTokens": 8}})
    )
    open_document(tiny_client, ARITH_URI, ARITH)
    result = await tiny_client.text_document_inline_completion_async(inline_params(2, 4))
    assert isinstance(result, types.InlineCompletionList)
    assert (await status(tiny_client))["settings"]["maxNewTokens"] == 8


async def test_other_open_documents_become_repository_context(
    tiny_client: LanguageClient,
) -> None:
    """The prompt is repository level: other open files come first, the current one last.

    The workspace index is switched off (while the server runs) so only open files count."""
    tiny_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"maxNewTokens": 4, "workspaceIndex": False})
    )
    open_document(tiny_client, uri_for("shapes.py"), path_for("shapes.py").read_text("utf-8"))
    open_document(tiny_client, ARITH_URI, ARITH)
    await tiny_client.text_document_inline_completion_async(inline_params(2, 4))
    last = (await status(tiny_client))["lastRequest"]
    assert last["contextFiles"] == ["shapes.py"]
    assert last["promptTokens"]["context"] > 20

    tiny_client.text_document_did_close(
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri_for("shapes.py")))
    )
    await tiny_client.text_document_inline_completion_async(inline_params(2, 4))
    last = (await status(tiny_client))["lastRequest"]
    assert last["contextFiles"] == [] and last["promptTokens"]["context"] == 0


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def broken_model_client(lsp_client: LanguageClient, request: pytest.FixtureRequest) -> object:
    await start_session(lsp_client, request.param, {"model": "/nonexistent/model-dir"})
    yield
    await lsp_client.shutdown_session()


async def test_model_that_fails_to_load_is_reported_once(
    broken_model_client: LanguageClient,
) -> None:
    errors = [m for m in broken_model_client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and "failed to load" in errors[0].message
    assert (await status(broken_model_client))["state"] == "failed"
    open_document(broken_model_client, ARITH_URI, ARITH)
    result = await broken_model_client.text_document_inline_completion_async(inline_params(2, 4))
    assert result == types.InlineCompletionList(items=())


async def test_replay_with_no_surviving_candidate_shows_nothing(tmp_path: Path) -> None:
    """Every candidate breaks the syntax: nothing is shown."""
    replay = write_replay(tmp_path / "bad.jsonl", [("return (a +", -0.1), ("  ]", -0.5)])
    client = cast(LanguageClient, await SERVER.start())
    try:
        await start_session(client, "neovim", {"model": f"replay:{replay}"})
        open_document(client, ARITH_URI, ARITH)
        result = await client.text_document_inline_completion_async(inline_params(2, 4))
        assert result == types.InlineCompletionList(items=())
        await client.shutdown_session()
    finally:
        await client.stop()


async def test_utf8_position_encoding_counts_bytes(tmp_path: Path) -> None:
    """A client that only speaks UTF-8 positions (as Neovim may negotiate) gets byte columns."""
    replay = write_replay(tmp_path / "r.jsonl", [("name", -0.1)])
    client = cast(LanguageClient, await SERVER.start())
    try:
        capabilities = client_capabilities("neovim")
        capabilities.general = types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind.Utf8]
        )
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities, initialization_options={"model": f"replay:{replay}"}
            )
        )
        assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
        await wait_for_state(client, "ready")
        open_document(client, ARITH_URI, ARITH)
        line = ARITH.splitlines()[5]
        column = len(line.encode("utf-8"))
        items = await client.text_document_inline_completion_async(inline_params(5, column))
        cursor = types.Range(types.Position(5, column), types.Position(5, column))
        assert isinstance(items, types.InlineCompletionList)
        assert [(i.insert_text, i.range) for i in items.items] == [("name", cursor)]
        await client.shutdown_session()
    finally:
        await client.stop()


async def test_ranges_at_the_end_of_a_file_without_newline_and_after_a_form_feed(
    replay_client: LanguageClient,
) -> None:
    # No final newline: the cursor is the end of the last line, never a line past it.
    text = "\x0c\ndef add(a: int, b: int) -> int:\n    "
    open_document(replay_client, ARITH_URI, text)
    result = await replay_client.text_document_inline_completion_async(inline_params(2, 4))
    assert isinstance(result, types.InlineCompletionList) and result.items
    cursor = types.Range(types.Position(2, 4), types.Position(2, 4))
    assert [item.range for item in result.items] == [cursor] * len(result.items)
    # An edit after the form feed lands where the editor put it.
    replay_client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=ARITH_URI, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(1, 4), types.Position(1, 7)), text="plus")],
    ))
    result = await replay_client.text_document_inline_completion_async(inline_params(2, 4))
    assert isinstance(result, types.InlineCompletionList) and result.items
    assert plain(result.items[0].command.arguments)[0]["verdicts"]["syntax"]["ok"] is True  # type: ignore[union-attr]


async def test_a_document_neither_open_nor_on_disk_is_a_clear_error(
    replay_client: LanguageClient, tmp_path: Path
) -> None:
    missing = (tmp_path / "gone.py").as_uri()
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=missing),
        position=types.Position(line=0, character=0),
    )
    with pytest.raises(JsonRpcException) as caught:
        await replay_client.text_document_inline_completion_async(params)
    assert "is not open and cannot be read" in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert (await status(replay_client))["state"] == "ready"
