"""LoRA adapters per workspace folder, over stdio: one server, swapped without a restart."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from safetensors.torch import load_file, save_file

from codegen.jobs.train_data import read
from lsp_server.completion_log import log_path
from tests.conftest import make_adapter, write_replay
from tests.e2e.conftest import SERVER, open_document, plain, status, wait_for_state

pytestmark = pytest.mark.e2e

SOURCE = "def add(a: int, b: int) -> int:\n    \n"
OPTIONS = {"model": "random:tiny", "device": "cpu", "alternatives": 1, "temperature": 0.0,
           "maxNewTokens": 16, "suggestions": {"eagerness": "eager"}}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three projects with the same file, two adapters, and adapters the model cannot serve.

    Beta's folder has capitals: its adapter setting's key once lost them (``/_beta``)."""
    root = tmp_path_factory.mktemp("projects")
    made = {name: root / name for name in ("alpha", "beta", "plain")}
    made["beta"] = root / "Beta"
    for folder in made.values():
        folder.mkdir()
        (folder / "calc.py").write_text(SOURCE, encoding="utf-8")
    made["adapter-a"] = make_adapter(root / "adapter-a", seed=1)
    made["adapter-b"] = make_adapter(root / "adapter-b", seed=2)
    damaged = make_adapter(root / "damaged", seed=3)
    (damaged / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    made["damaged"] = damaged
    made["mismatched"] = make_adapter(
        root / "mismatched", seed=4,
        config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                "num_key_value_heads": 1, "num_hidden_layers": 2, "vocab_size": 151936})
    renamed = make_adapter(root / "renamed", seed=5)  # same shapes, another model's name
    config_file = renamed / "adapter_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    made["renamed"] = renamed
    made["nan"] = make_adapter(root / "nan", seed=6)
    weights_file = made["nan"] / "adapter_model.safetensors"
    tensors = load_file(str(weights_file))
    tensors = {k: v.fill_(float("nan")) if "layers.1" in k else v for k, v in tensors.items()}
    save_file(tensors, str(weights_file))
    return made


@pytest_lsp.fixture(params=["visual_studio_code"], config=SERVER)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest,
                 folders: dict[str, Path]) -> Any:
    projects = [folders[name] for name in ("alpha", "beta", "plain")]
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            initialization_options={**OPTIONS, "adapters": {
                str(folders["alpha"]): str(folders["adapter-a"]),
                str(folders["beta"]): str(folders["adapter-b"]),
            }},
            root_uri=projects[0].as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=p.as_uri(), name=p.name)
                               for p in projects],
        )
    )
    assert await wait_for_state(lsp_client, "ready", "failed") == "ready"
    yield
    await lsp_client.shutdown_session()


def params(path: Path) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
        position=types.Position(line=1, character=4),
    )


async def complete(client: LanguageClient, project: Path) -> tuple[str, list[str]]:
    """The adapter the request used and the model's raw answers.

    Only this document is open, so the prompt is the same in every project (the projects'
    files are alike and other open files would be repository context)."""
    uri = (project / "calc.py").as_uri()
    open_document(client, uri, SOURCE)
    result = await client.text_document_inline_completion_async(params(project / "calc.py"))
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert isinstance(result, types.InlineCompletionList)
    explained = plain(await client.protocol.send_request_async("vetted/explain", {}))
    raw = [c["raw"] for c in explained["shown"] + explained["discarded"]]
    return str((await status(client))["lastRequest"]["adapter"]), raw


def configure(client: LanguageClient, adapters: dict[str, str], **more: Any) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"vetted": {**OPTIONS, "adapters": adapters, **more}}))


async def test_each_workspace_folder_completes_with_its_adapter(
    client: LanguageClient, folders: dict[str, Path]
) -> None:
    alpha, beta, base = [await complete(client, folders[name])
                         for name in ("alpha", "beta", "plain")]
    assert (alpha[0], beta[0], base[0]) == (str(folders["adapter-a"]),
                                            str(folders["adapter-b"]), "")
    assert len({tuple(alpha[1]), tuple(beta[1]), tuple(base[1])}) == 3, "adapters did nothing"
    assert (await status(client))["state"] == "ready"


async def test_a_swap_serves_the_next_request_and_not_the_running_one(
    client: LanguageClient, folders: dict[str, Path]
) -> None:
    alpha = str(folders["alpha"])
    _, with_b = await complete(client, folders["beta"])
    configure(client, {alpha: str(folders["adapter-a"])}, maxNewTokens=2048)
    running = asyncio.ensure_future(complete(client, folders["alpha"]))
    deadline = time.monotonic() + 30
    while (await status(client))["activeGenerations"] == 0:
        assert time.monotonic() < deadline, "the generation never started"
        await asyncio.sleep(0.02)
    # Alpha now uses adapter B, and beta none; the model is not reloaded.
    configure(client, {alpha: str(folders["adapter-b"])}, maxNewTokens=16)
    assert (await asyncio.wait_for(running, timeout=120))[0] == str(folders["adapter-a"])
    used, raw = await complete(client, folders["alpha"])
    assert used == str(folders["adapter-b"]) and raw == with_b
    assert (await complete(client, folders["beta"]))[0] == ""
    assert not [m for m in client.messages if m.type == types.MessageType.Error]


@pytest.mark.parametrize(("bad", "says"), [
    ("damaged", "cannot read the adapter"),
    ("mismatched", "trained for another base model"),
    ("renamed", "trained for another base model (Qwen/Qwen2.5-Coder-1.5B-Instruct"),
    ("nan", "has NaN or infinite weights"),
])
async def test_a_bad_adapter_is_reported_once_and_the_base_model_serves(
    client: LanguageClient, folders: dict[str, Path], bad: str, says: str
) -> None:
    _, base = await complete(client, folders["plain"])
    configure(client, {str(folders["alpha"]): str(folders[bad])})
    for _ in range(2):
        used, raw = await complete(client, folders["alpha"])
        assert used == "" and raw == base
        assert (await complete(client, folders["plain"]))[1] == base  # the neighbour too
    errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and "adapter not used" in errors[0] and says in errors[0], errors
    assert (await status(client))["state"] == "ready"



@pytest_lsp.fixture(params=["visual_studio_code"], config=SERVER)
async def logging_client(lsp_client: LanguageClient, request: pytest.FixtureRequest,
                         tmp_path: Path) -> Any:
    """A project whose server logs suggestions (a replay model offers two)."""
    project = tmp_path / "shop"
    project.mkdir()
    (project / "calc.py").write_text(SOURCE, encoding="utf-8")
    replay = write_replay(tmp_path / "replay.jsonl", [("return a + b", -0.1),
                                                     ("return b + a", -0.2)])
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param),
        initialization_options={"model": f"replay:{replay}",
                                "training": {"logCompletions": True}},
        root_uri=project.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="shop")],
    ))
    assert await wait_for_state(lsp_client, "ready") == "ready"
    yield
    await lsp_client.shutdown_session()
    log_path(str(project)).unlink(missing_ok=True)


async def test_accepted_suggestions_are_logged_locally_for_training(
    logging_client: LanguageClient, tmp_path: Path
) -> None:
    """Opt-in: shown and accepted suggestions go to the workspace's log, then into data."""
    client, project = logging_client, tmp_path / "shop"
    open_document(client, (project / "calc.py").as_uri(), SOURCE)
    result = await client.text_document_inline_completion_async(params(project / "calc.py"))
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 2
    chosen = result.items[1]
    assert chosen.command is not None and chosen.insert_text == "return b + a"
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=chosen.command.command, arguments=chosen.command.arguments))
    await status(client)  # the command has been handled
    log = log_path(str(project))
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [e["event"] for e in events] == ["shown", "shown", "accepted"]
    assert events[0]["path"] == "calc.py" and events[0]["prefix"].endswith("    ")
    out = tmp_path / "data.jsonl"
    done = subprocess.run([sys.executable, "-m", "lsp_server", "train", "data", str(project),
                           "-o", str(out), "--completions", str(log)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    logged = [e for e in read(out) if e.kind == "logged"]
    assert [(e.middle, e.accepted) for e in logged] == [("return a + b", False),
                                                        ("return b + a", True)]
