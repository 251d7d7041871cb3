"""A small model for automatic requests, the configured one for invoked requests, over stdio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import path_for, uri_for, write_replay
from tests.e2e.conftest import CLIENTS, SERVER, open_document, start_session, status

pytestmark = pytest.mark.e2e

ARITH_URI = uri_for("arith.py")


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def routed_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path: Path
) -> Any:
    small = write_replay(tmp_path / "small.jsonl", [("return a + b", -0.1)])
    large = write_replay(tmp_path / "large.jsonl", [("return b + a", -0.1)])
    await start_session(
        lsp_client, request.param,
        {"model": f"replay:{large}", "automaticModel": f"replay:{small}"},
    )
    yield
    await lsp_client.shutdown_session()


async def inline(client: LanguageClient, kind: types.InlineCompletionTriggerKind) -> list[str]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=kind),
            text_document=types.TextDocumentIdentifier(uri=ARITH_URI),
            position=types.Position(line=2, character=4),
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    return [str(item.insert_text) for item in result.items]


async def test_each_trigger_gets_its_model(routed_client: LanguageClient) -> None:
    open_document(routed_client, ARITH_URI, path_for("arith.py").read_text(encoding="utf-8"))
    automatic = types.InlineCompletionTriggerKind.Automatic
    assert await inline(routed_client, automatic) == ["return a + b"]
    assert await inline(routed_client, types.InlineCompletionTriggerKind.Invoked) == [
        "return b + a"
    ]
    assert "automatic requests: replay:" in (await status(routed_client))["model"]
