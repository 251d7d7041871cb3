"""LoRA adapters on the tiny random Qwen2: per request, in one batch, swapped while running."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoModelForCausalLM

from codegen.runtime.adapters import AdapterError, _check_base, read_adapter
from codegen.runtime.backends import TorchBackend, load_backend
from codegen.runtime.generate import SamplingParams
from codegen.runtime.model import parse_spec, pull
from tests.conftest import make_adapter

PROMPT = list(range(1000, 1040))
GREEDY = SamplingParams(n=1, max_new_tokens=12)
"""Greedy, no stop checks: exact tokens to compare (sampling is too sensitive to batching's
last-bit differences in the logits for token-for-token equality)."""


@pytest.fixture(scope="module")
def backend() -> Iterator[TorchBackend]:
    loaded = load_backend(parse_spec("random:tiny"), device="cpu")
    assert isinstance(loaded, TorchBackend) and loaded.engine is not None
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return make_adapter(root / "a", seed=1), make_adapter(root / "b", seed=2)


def run(backend: TorchBackend, adapter: str = "", params: SamplingParams = GREEDY) -> Any:
    assert backend.engine is not None
    ticket = backend.engine.submit(PROMPT, params, (), cancel=threading.Event(),
                                   adapter=adapter)
    return ticket.result(60)[0].token_ids


def test_an_adapter_changes_the_output(backend: TorchBackend, adapters: tuple[Path, Path]) -> None:
    base = run(backend)
    with_a = run(backend, str(adapters[0]))
    with_b = run(backend, str(adapters[1]))
    assert with_a != base and with_b != base and with_a != with_b
    assert run(backend, str(adapters[0])) == with_a  # the same adapter, the same tokens
    assert run(backend) == base  # and the base model is untouched


def test_requests_with_different_adapters_share_a_batch(
    backend: TorchBackend, adapters: tuple[Path, Path]
) -> None:
    alone = [run(backend, a) for a in ("", str(adapters[0]), str(adapters[1]))]
    assert backend.engine is not None
    steps = backend.engine.stats.max_batch
    tickets = [backend.engine.submit(PROMPT, GREEDY, (), cancel=threading.Event(), adapter=a)
               for a in ("", str(adapters[0]), str(adapters[1]))]
    together = [t.result(60)[0].token_ids for t in tickets]
    assert together == alone
    assert backend.engine.stats.max_batch >= max(steps, 3)


def test_a_retrained_adapter_serves_the_next_request_not_the_running_one(
    backend: TorchBackend, adapters: tuple[Path, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "live"
    shutil.copytree(adapters[0], folder)
    long = SamplingParams(n=1, max_new_tokens=60)
    expected_old = run(backend, str(adapters[0]), long)
    expected_new = run(backend, str(adapters[1]), GREEDY)
    assert backend.engine is not None
    started = threading.Event()
    running = backend.engine.submit(PROMPT, long, (), cancel=threading.Event(),
                                    on_text=lambda i, t: started.set(), adapter=str(folder))
    assert started.wait(30)
    for name in ("adapter_model.safetensors", "adapter_config.json"):  # retrained in place
        shutil.copy(adapters[1] / name, folder / name)
    assert run(backend, str(folder)) == expected_new
    assert running.result(60)[0].token_ids == expected_old


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("garbage", "cannot read the adapter"),
        ("missing", "is not a LoRA adapter"),
        ("other model", "trained for another base model"),
        # Same shapes, but its config names another model: served silently before.
        ("renamed", r"trained for another base model \(Qwen/Qwen2.5-Coder-1.5B-Instruct"),
        # A diverged training run: NaN scores failed the other requests of its batch.
        ("nan", "self_attn.q_proj has NaN or infinite weights"),
    ],
)
def test_a_bad_adapter_is_refused_and_the_base_model_goes_on(
    backend: TorchBackend, tmp_path: Path, damage: str, message: str
) -> None:
    folder = tmp_path / "bad"
    if damage == "garbage":
        folder.mkdir()
        (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 4}')
        (folder / "adapter_model.safetensors").write_bytes(b"\x00not a tensor file")
    elif damage == "other model":
        wider = {**load_backend(parse_spec("random:tiny")).model.config.to_dict()}  # type: ignore[attr-defined]
        wider.update(hidden_size=128, intermediate_size=256)
        make_adapter(folder, seed=3, config=wider)
    elif damage == "renamed":
        make_adapter(folder, seed=3)
        rename_base(folder, "Qwen/Qwen2.5-Coder-1.5B-Instruct")
    elif damage == "nan":
        poison(make_adapter(folder, seed=3))
    with pytest.raises(AdapterError, match=message):
        backend.check_adapter(str(folder))
    base = run(backend)
    assert backend.engine is not None
    with pytest.raises(AdapterError, match=message):
        backend.engine.submit(PROMPT, GREEDY, (), cancel=threading.Event(),
                              adapter=str(folder)).result(60)
    assert run(backend) == base


def rename_base(folder: Path, base: str) -> None:
    config_file = folder / "adapter_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base
    config_file.write_text(json.dumps(config), encoding="utf-8")


def poison(folder: Path) -> None:
    """Make one weight of the first layer's q_proj A matrix NaN."""
    from safetensors.torch import load_file, save_file

    weights_file = folder / "adapter_model.safetensors"
    tensors = load_file(str(weights_file))
    [key] = [k for k in tensors if "layers.0.self_attn.q_proj.lora_A" in k]
    tensors[key][0, 0] = float("nan")
    save_file(tensors, str(weights_file))


def test_an_adapter_of_the_same_model_saved_elsewhere_is_served(
    backend: TorchBackend, adapters: tuple[Path, Path], tmp_path: Path
) -> None:
    """Only the base model's name counts, not the folder another machine kept it in."""
    folder = tmp_path / "copied"
    shutil.copytree(adapters[0], folder)
    rename_base(folder, "/home/bob/.cache/vetted/models/random-tiny")
    backend.check_adapter(str(folder))
    assert run(backend, str(folder)) == run(backend, str(adapters[0]))


def test_adapter_files_are_read_with_their_scale(adapters: tuple[Path, Path]) -> None:
    model: Any = AutoModelForCausalLM.from_pretrained(str(pull(parse_spec("random:tiny"))))
    weights = read_adapter(str(adapters[0]), model)
    assert weights.scale == 4.0  # lora_alpha 16 / r 4
    assert sorted(weights.modules)[:2] == ["model.layers.0.self_attn.q_proj",
                                           "model.layers.0.self_attn.v_proj"]


@pytest.mark.parametrize(("trained_on", "served"), [
    ("Qwen/Qwen2.5-Coder-1.5B", "/srv/models--Qwen--Qwen2.5-Coder-1.5B/snapshots/0a1b2c"),
    ("Qwen/Qwen2.5-Coder-1.5B-Instruct",
     "/home/al/.cache/vetted/models/qwen2.5-coder-1.5b-instruct-q4_k_m-0123456789ab"),
    ("/mnt/Qwen2.5-Coder-7B", "qwen2.5-coder-7b-q8_0.gguf"),
])
def test_the_same_model_under_another_spelling_is_one_base(trained_on: str, served: str) -> None:
    _check_base(Path("adapter"), trained_on, served)


def test_a_base_and_its_instruct_model_are_two_bases() -> None:
    with pytest.raises(AdapterError, match="trained for another base model"):
        _check_base(Path("adapter"), "Qwen/Qwen2.5-Coder-1.5B-Instruct",
                    "/models/qwen2.5-coder-1.5b-q4_k_m-0123456789ab")
