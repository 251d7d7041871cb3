"""`vetted train lora` on the tiny random Qwen2: the loss falls, a run resumes, it serves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from codegen.jobs.train_data import Example, Summary, write
from codegen.jobs.train_lora import LoraOptions, train
from codegen.runtime.adapters import read_adapter
from codegen.runtime.backends import TorchBackend, load_backend
from codegen.runtime.generate import SamplingParams
from codegen.runtime.model import parse_spec, pull

CODE = [
    ("def add(a, b):\n    return ", "\n", "a + b"),
    ("def scale(xs, k):\n    return ", "\n", "[x * k for x in xs]"),
    ("def first(xs):\n    ", "\n", "return xs[0] if xs else None"),
    ("def shout(s):\n    return ", "\n", "s.upper() + '!'"),
]
FAST = LoraOptions(rank=8, alpha=16, dropout=0.0, learning_rate=2e-2, max_steps=8,
                   accumulation=2, max_tokens=256, checkpoint_every=3,
                   gradient_checkpointing=False)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """random:tiny's shape with larger initial weights, by local path as a user gives one.

    random:tiny's 0.02-scale tied embeddings cap its logits near zero, so no adapter can move
    its loss far from ln(vocabulary); at 0.2 a few steps visibly learn the examples."""
    source = pull(parse_spec("random:tiny"))
    config = AutoConfig.from_pretrained(str(source))
    config.initializer_range = 0.2
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("base")
    auto: Any = AutoModelForCausalLM
    auto.from_config(config).save_pretrained(str(folder))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(source) / name, folder / name)
    return str(folder)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    examples = [Example(f"pkg/m{n}.py", "statement", prefix, suffix, middle, "train")
                for n, (prefix, suffix, middle) in enumerate(CODE)]
    examples.append(Example("pkg/held.py", "statement", "def neg(x):\n    return ", "\n", "-x",
                            "eval"))
    out = tmp_path_factory.mktemp("data") / "train.jsonl"
    write(examples, Summary(), out)
    return out


@pytest.fixture(scope="module")
def trained(
    base: str, dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[float]]:
    out = tmp_path_factory.mktemp("adapter") / "style"
    report = train(dataset, out, base, FAST, device="cpu")
    return out, report.losses


def test_training_lowers_the_loss(trained: tuple[Path, list[float]]) -> None:
    out, losses = trained
    assert len(losses) == FAST.max_steps
    assert sum(losses[-2:]) / 2 < losses[0] - 1.0
    record = json.loads((out / "training.json").read_text())
    assert record["options"]["rank"] == 8 and record["losses"] == losses
    assert record["eval_loss_before"] is not None and record["eval_loss_after"] is not None
    assert not (out / "checkpoints").exists()  # a finished run leaves only the adapter


def stop_at_step_four(dataset: Path, out: Path, base: str) -> None:
    """Train until step 4 starts (the checkpoint of step 3 is written), then stop."""

    class Stop(Exception):
        pass

    def stop_after_four(step: int, total: int, loss: float) -> None:
        if step == 4:
            raise Stop

    with pytest.raises(Stop):
        train(dataset, out, base, FAST, device="cpu", progress=stop_after_four)


def test_an_interrupted_run_resumes_from_its_checkpoint(
    base: str, dataset: Path, trained: tuple[Path, list[float]], tmp_path: Path
) -> None:
    out = tmp_path / "style"

    stop_at_step_four(dataset, out, base)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-3"]
    report = train(dataset, out, base, FAST, device="cpu")
    assert report.resumed_from == 3
    # Same data order, same optimizer and schedule state: the same run as one without a stop.
    assert report.losses == pytest.approx(trained[1], rel=1e-4)


def test_the_trained_adapter_is_served_and_changes_the_greedy_output(
    base: str, trained: tuple[Path, list[float]],
) -> None:
    out, _ = trained
    backend = load_backend(parse_spec(base), device="cpu")
    assert isinstance(backend, TorchBackend) and backend.engine is not None
    try:
        adapter = read_adapter(str(out), backend.model)
        assert adapter.scale == 2.0
        assert {name.rsplit(".", 1)[1] for name in adapter.modules} == set(FAST.targets)
        prompt = list(range(2000, 2030))
        greedy = SamplingParams(n=1, max_new_tokens=10)

        def tokens(name: str) -> list[int]:
            assert backend.engine is not None
            ticket = backend.engine.submit(prompt, greedy, (), cancel=threading.Event(),
                                           adapter=name)
            return list(ticket.result(60)[0].token_ids)

        assert tokens(str(out)) != tokens("")
    finally:
        backend.close()


def test_the_command_line_trains_and_reports(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-adapter"
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", "train", "lora", str(dataset), "-o", str(out),
         "--model", "random:tiny", "--device", "cpu", "--max-steps", "2", "--accumulation",
         "2", "--max-tokens", "256", "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["adapter"] == str(out)
    assert (out / "adapter_model.safetensors").is_file()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "lsp_server", "train", "lora", str(empty), "-o", str(out),
         "--model", "random:tiny", "--device", "cpu", "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert refused.returncode == 2 and "no training example" in refused.stderr


def test_resuming_with_another_rank_is_one_clear_line(
    base: str, dataset: Path, tmp_path: Path
) -> None:
    """It was a raw traceback (a size mismatch loading the checkpoint)."""
    out = tmp_path / "style"

    stop_at_step_four(dataset, out, base)
    refused = subprocess.run(
        [sys.executable, "-m", "lsp_server", "train", "lora", str(dataset), "-o", str(out),
         "--model", base, "--device", "cpu", "--rank", "4", "--alpha", str(FAST.alpha),
         "--max-steps", "8", "--accumulation", "2", "--max-tokens", "256",
         "--checkpoint-every", "3", "--no-gradient-checkpointing", "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert refused.returncode == 2, refused.stderr
    *_, said = refused.stderr.strip().splitlines()
    assert "Traceback" not in refused.stderr and said.startswith("vetted: ")
    assert "step-3 was trained with rank 8 (asked: 4)" in said
    assert (out / "checkpoints" / "step-3").is_dir()  # kept for a run with its settings
