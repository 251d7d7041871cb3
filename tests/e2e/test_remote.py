"""An ``openai:`` model over stdio: an answer broken off midway is an error, not a suggestion."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.e2e.conftest import SERVER, open_document, wait_for_state
from tests.unit.codegen.runtime.test_remote import Fake, handler

pytestmark = pytest.mark.e2e

SOURCE = "def add(a: int, b: int) -> int:\n    \n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def fake() -> Iterator[tuple[Fake, str]]:
    """A completions server on loopback that streams ``return a + b``."""
    answers = Fake(answers=["return a + b\n"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(answers))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield answers, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest_lsp.fixture(params=["visual_studio_code"], config=SERVER)
async def client(lsp_client: LanguageClient, fake: tuple[Fake, str], tmp_path: Path) -> Any:
    port = free_port()
    lsp_client.port = port  # type: ignore[attr-defined]
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"),
        initialization_options={
            "model": f"openai:{fake[1]}", "alternatives": 1,
            "remote": {"retries": 1, "timeoutSeconds": 5},
            "observability": {"port": port},
            "validators": {"mypy": False, "tests": False},
            # These tests count the endpoint's requests: no prefetch asks it in between.
            "suggestions": {"prefetch": False},
        },
        root_uri=tmp_path.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="calc")],
    ))
    assert await wait_for_state(lsp_client, "ready", "failed") == "ready"
    yield
    await lsp_client.shutdown_session()


async def complete(client: LanguageClient, path: Path) -> list[str]:
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
        position=types.Position(line=1, character=4),
    ))
    items = result.items if isinstance(result, types.InlineCompletionList) else result or []
    return [str(item.insert_text) for item in items]


def errors_counted(client: LanguageClient) -> float:
    port = client.port  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    counted = [line.rsplit(" ", 1)[1] for line in metrics.splitlines()
               if line.startswith('vetted_requests_total{outcome="error"')]
    return float(counted[0]) if counted else 0.0


async def test_a_broken_off_answer_is_tried_again_then_an_error_outcome(
    client: LanguageClient, fake: tuple[Fake, str], tmp_path: Path
) -> None:
    """Before, the first piece ("ret") was shown as if it were the whole answer."""
    answers = fake[0]
    path = tmp_path / "calc.py"
    path.write_text(SOURCE, encoding="utf-8")
    open_document(client, path.as_uri(), SOURCE)
    answers.cut_first = 1
    assert await complete(client, path) == ["return a + b"]  # the second attempt's answer
    answers.cut_first = 2  # both attempts broken off
    assert await complete(client, path) == []
    assert errors_counted(client) == 1.0
    shown = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert len(shown) == 1 and "broke off its answer" in shown[0], shown
