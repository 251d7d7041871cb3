"""Recent edits over stdio: an edit in another open document reaches the prompt as a diff,
the edit being typed at the cursor and a secret typed in an edit never do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.e2e.conftest import CLIENTS, SERVER, open_document, plain, status, wait_for_state

pytestmark = pytest.mark.e2e

SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
HELPERS = "def net_price(gross):\n    return gross / 1.2\n"
MAIN = "from helpers import net_price\n\n\ndef total(prices):\n    "


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest,
                 tmp_path: Path) -> Any:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "helpers.py").write_text(HELPERS, encoding="utf-8")
    (root / "main.py").write_text(MAIN, encoding="utf-8")
    lsp_client.root = root  # type: ignore[attr-defined]
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param),
        initialization_options={
            "model": "random:tiny", "device": "cpu", "maxNewTokens": 4, "alternatives": 1,
            "observability": {"logPrompts": True}, "workspaceIndex": False,
            "recentEdits": True,
            "validators": {"mypy": False, "tests": False},
        },
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="shop")],
    ))
    await wait_for_state(lsp_client, "ready")
    yield
    await lsp_client.shutdown_session()


def type_into(client: LanguageClient, uri: str, version: int, line: int, character: int,
              text: str) -> int:
    """Type `text` at a position one character at a time, as an editor reports keystrokes."""
    for typed in text:
        version += 1
        at = types.Position(line=line, character=character)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=at, end=at), text=typed)],
        ))
        line, character = (line + 1, 0) if typed == "\n" else (line, character + 1)
    return version


async def test_an_edit_in_another_document_reaches_the_prompt_and_its_secret_does_not(
    client: LanguageClient,
) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    helpers, main = (root / "helpers.py").as_uri(), (root / "main.py").as_uri()
    open_document(client, helpers, HELPERS)
    open_document(client, main, MAIN)
    version = type_into(client, helpers, 1, 0, len("def net_price(gross"), ", rate")
    type_into(client, helpers, version, 2, 0, f'API_TOKEN = "{SECRET}"\n')
    type_into(client, main, 1, 4, 4, "return sum(")  # the edit at the cursor
    await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=main),
        position=types.Position(line=4, character=15),
    ))
    explained = plain(await client.protocol.send_request_async("vetted/explain", {}))
    # The rename, keystrokes merged into one hunk, as the last section before the file;
    # not the secret's line (nor main.py's own edit, which the prefix shows).
    section = (
        "<|file_sep|>.vetted/recent_edits.diff\n"
        "--- a/helpers.py\n+++ b/helpers.py\n"
        "@@ -1,2 +1,2 @@\n"
        "-def net_price(gross):\n"
        "+def net_price(gross, rate):\n"
        "     return gross / 1.2\n"
        "<|file_sep|>main.py\n"
    )
    assert section in explained["prompt"]
    assert SECRET not in explained["prompt"] and "API_TOKEN" not in explained["prompt"]
    last = (await status(client))["lastRequest"]
    assert last["contextFiles"] == ["helpers.py", ".vetted/recent_edits.diff"]
