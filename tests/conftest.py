"""Shared fixtures: paths and URIs of the demo workspace, replay files."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from codegen.runtime.backends import HFTokenizer

WORKSPACE = Path(__file__).parent / "workspaces" / "demo"


def path_for(name: str) -> Path:
    """Absolute path of a file in the demo workspace."""
    return WORKSPACE / name


def uri_for(name: str) -> str:
    """file:// URI of a file in the demo workspace."""
    return path_for(name).as_uri()


def write_replay(path: Path, outputs: list[tuple[str, float | None]]) -> Path:
    """Write a replay model file: one recorded raw output per line."""
    lines = [
        json.dumps({"text": text} if logprob is None else {"text": text, "logprob": logprob})
        for text, logprob in outputs
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    """Three recorded outputs: one that breaks the syntax, a fenced one and a plain one."""
    return write_replay(
        tmp_path / "replay.jsonl",
        [
            ("return a +", -0.1),
            ("return a + b", -0.2),
            ("```python\nreturn b + a\n```", -1.0),
        ],
    )


@pytest.fixture(autouse=True)
def own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test (and every server it starts) learns in a state folder of its own.

    The server keeps each workspace's suggestion signals under ``$XDG_STATE_HOME/vetted``:
    shared, one test's rejections would make the next test's server quieter, and the tests
    would write into the user's own.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run end-to-end tests last, after the fast unit tests."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session")
def qwen_tokenizer() -> HFTokenizer:
    """The real Qwen2 tokenizer (shipped with the cached random:tiny model)."""
    from tokenizers import Tokenizer

    from codegen.runtime.model import parse_spec, pull

    directory = Path(pull(parse_spec("random:tiny")))
    return HFTokenizer(Tokenizer.from_file(str(directory / "tokenizer.json")))


@cache
def sandbox_reason() -> str | None:
    """Why candidates cannot be run in a sandbox here, or None when they can."""
    from validators.sandbox import Sandbox

    with Sandbox() as sandbox:
        return sandbox.probe()


@pytest.fixture
def needs_sandbox() -> None:
    """Skip a test that runs candidates when there is no sandbox (fail in CI instead)."""
    reason = sandbox_reason()
    if reason is None:
        return
    if os.environ.get("VETTED_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"sandbox required but unavailable: {reason}")
    pytest.skip(f"sandbox unavailable here: {reason}")


def make_adapter(folder: Path, seed: int, targets: tuple[str, ...] = ("q_proj", "v_proj"),
                 config: dict[str, Any] | None = None) -> Path:
    """A peft adapter for random:tiny with random (not zero) weights, so it changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from codegen.runtime.model import parse_spec, pull

    torch.manual_seed(seed)
    base: Any = AutoModelForCausalLM.from_pretrained(str(pull(parse_spec("random:tiny"))))
    if config is not None:
        auto: Any = AutoModelForCausalLM
        base = auto.from_config(base.config.__class__(**config))
    lora = LoraConfig(r=4, lora_alpha=16, target_modules=list(targets), init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(str(folder))
    return folder
