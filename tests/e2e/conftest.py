"""pytest-lsp fixtures: the real server over stdio, for recorded VS Code and Neovim clients."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from codegen.runtime.model import parse_spec, pull
from tests.conftest import WORKSPACE

CLIENTS = ["visual_studio_code", "neovim"]
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "lsp_server", "serve", "-v"])


@pytest.fixture(scope="session", autouse=True)
def tiny_model_cached() -> None:
    """Build the random:tiny model (and fetch its tokenizer) once, before any server needs it."""
    pull(parse_spec("random:tiny"))


def plain(value: Any) -> Any:
    """Turn pygls's namedtuples for custom results back into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def status(client: LanguageClient) -> dict[str, Any]:
    """The server's `vetted/status` answer as a dict."""
    result: dict[str, Any] = plain(await client.protocol.send_request_async("vetted/status", {}))
    return result


async def wait_for_state(client: LanguageClient, *states: str, timeout: float = 240.0) -> str:
    """Poll `vetted/status` until the model state is one of `states`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = str((await status(client))["state"])
        if state in states:
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"model state still {state!r}")
        await asyncio.sleep(0.1)


async def start_session(
    client: LanguageClient, client_name: str, options: dict[str, Any]
) -> types.InitializeResult:
    """Initialize with a recorded client's capabilities and wait for the model."""
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(client_name),
            initialization_options=options,
            root_uri=WORKSPACE.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=WORKSPACE.as_uri(), name="demo")],
        )
    )
    await wait_for_state(client, "ready", "failed")
    return result


async def send_raw_request(client: LanguageClient, method: str, params: Any) -> Any:
    """Send a request exactly as given, bypassing the client's typed serialization."""
    msg_id = f"raw-{uuid.uuid4()}"
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.protocol._request_futures[msg_id] = future  # type: ignore[assignment]
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(future, timeout=10)


def open_document(client: LanguageClient, uri: str, text: str) -> None:
    """Send didOpen for a Python document."""
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def replay_client(lsp_client: LanguageClient, request: pytest.FixtureRequest,
                        replay_file: Path) -> Any:
    """A session whose model replays `replay_file`."""
    lsp_client.initialize_result = await start_session(  # type: ignore[attr-defined]
        lsp_client, request.param, {"model": f"replay:{replay_file}"}
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(params=CLIENTS, config=SERVER)
async def tiny_client(lsp_client: LanguageClient, request: pytest.FixtureRequest) -> Any:
    """A session on the tiny random Qwen2 that samples long outputs (for cancellation)."""
    await start_session(
        lsp_client,
        request.param,
        {"model": "random:tiny", "device": "cpu", "maxNewTokens": 2048, "temperature": 1.0,
         "suggestions": {"eagerness": "eager"}},
    )
    yield
    await lsp_client.shutdown_session()
