"""`vetted train lora`: train a LoRA adapter (peft) on a `vetted train data` dataset.

Every example is rendered with the server's FIM template (repository context included) and
the loss is taken on the hole's tokens and the end token only. AdamW with a cosine schedule
after a short warm-up, gradient accumulation, gradient checkpointing; the base model in bf16
on a GPU and on a CPU with native bf16 (else fp32), the adapter's own weights in fp32
(peft). Every `checkpoint_every` optimizer steps the adapter, the optimizer and the
schedule are saved under ``ADAPTER/checkpoints/step-N`` (the data order follows from the
seed); run the same command again and it goes on from the newest. The result is a peft adapter
(``adapter_config.json``, ``adapter_model.safetensors``) that the server loads per workspace
(`codegen.runtime.adapters`), plus ``training.json`` with the losses.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from codegen.jobs.train_data import Example, read
from codegen.runtime.backends import HFTokenizer
from codegen.runtime.model import ModelError, parse_spec, pull
from codegen.runtime.placement import pick_device, pick_dtype
from prompts.templates import END_OF_TEXT, SPECIAL_TOKEN_IDS, FimTemplate, PromptFile, encode_text

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, float], None]
"""Called after each optimizer step: step, total steps, loss."""


@dataclass(frozen=True)
class LoraOptions:
    """What and how to train."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Module names the adapter changes (the attention projections by default)."""
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = 0
    """Optimizer steps at most (0: as many as `epochs` need)."""
    accumulation: int = 8
    """Examples per optimizer step."""
    max_tokens: int = 1024
    """Longer examples are left out."""
    warmup: float = 0.05
    """Share of the steps the learning rate warms up over."""
    checkpoint_every: int = 50
    gradient_checkpointing: bool = True
    seed: int = 0


@dataclass
class TrainingReport:
    """What a run did; written as ``training.json`` beside the adapter."""

    base_model: str
    steps: int
    examples: int
    skipped_too_long: int
    losses: list[float] = field(default_factory=list)
    """Mean training loss of each optimizer step."""
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    resumed_from: int = 0


@dataclass(frozen=True)
class Encoded:
    """One example as ids and labels (-100 where no loss is taken)."""

    ids: list[int]
    labels: list[int]


def encode(tokenizer: HFTokenizer, example: Example, max_tokens: int) -> Encoded | None:
    """The example in the server's prompt format, then the hole and the end token."""
    template = FimTemplate(max_prompt_tokens=max(max_tokens - 128, 256))
    prompt = template.render(
        tokenizer, example.prefix, example.suffix, path=example.path,
        context_files=[PromptFile(p, t) for p, t in example.context],
    )
    answer = [*encode_text(tokenizer, example.middle), SPECIAL_TOKEN_IDS[END_OF_TEXT]]
    ids = [*prompt.ids, *answer]
    if len(ids) > max_tokens:
        return None
    return Encoded(ids, [-100] * len(prompt.ids) + answer)


def train(
    dataset: Path,
    out: Path,
    model_spec: str,
    options: LoraOptions = LoraOptions(),
    *,
    device: str = "auto",
    dtype: str = "auto",
    progress: Progress | None = None,
    cache_dir: Path | None = None,
) -> TrainingReport:
    """Train an adapter on the dataset's train split and save it in `out`."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_cosine_schedule_with_warmup

    spec = parse_spec(model_spec)
    if spec.kind in ("replay", "openai"):
        raise ModelError(f"{model_spec} has no weights to train an adapter for")
    source = pull(spec, cache_dir)
    target = pick_device(device)
    precision = pick_dtype(dtype, target, spec)
    if dtype == "auto" and precision == torch.float16:
        precision = torch.float32  # fp16 training needs loss scaling; old GPUs train in fp32
    tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(str(source)).backend_tokenizer)
    examples = read(dataset)
    train_set = [e for e in examples if e.split == "train" and e.accepted]
    eval_set = [e for e in examples if e.split == "eval"][:64]
    encoded = [encode(tokenizer, e, options.max_tokens) for e in train_set]
    usable = [e for e in encoded if e is not None]
    held = [e for e in (encode(tokenizer, x, options.max_tokens) for x in eval_set) if e]
    if not usable:
        raise ModelError(f"{dataset} has no training example of at most {options.max_tokens} "
                         "tokens")
    auto: Any = AutoModelForCausalLM
    model = auto.from_pretrained(str(source), dtype=precision).to(target)
    if options.gradient_checkpointing:
        # transformers 5.x renamed it (the old name warns); both keep activations out of memory
        enable = getattr(model, "activation_checkpointing_enable", None)
        (enable or model.gradient_checkpointing_enable)()
        model.enable_input_require_grads()
    config = LoraConfig(task_type="CAUSAL_LM", r=options.rank, lora_alpha=options.alpha,
                        lora_dropout=options.dropout, target_modules=list(options.targets))
    torch.manual_seed(options.seed)  # the adapter's initial weights and dropout masks
    model = get_peft_model(model, config)
    total = options.max_steps or max(1, math.ceil(len(usable) * options.epochs
                                                  / options.accumulation))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=options.learning_rate)
    schedule = get_cosine_schedule_with_warmup(optimizer, int(total * options.warmup), total)
    report = TrainingReport(str(spec), total, len(usable), len(encoded) - len(usable))
    start = _resume(out, model, optimizer, schedule, report, options)
    if start == 0 and held:
        report.eval_loss_before = _mean_loss(model, held, target)
    order = _order(len(usable), total * options.accumulation, options.seed)
    model.train()
    for step in range(start, total):
        optimizer.zero_grad()
        losses = []
        for index in order[step * options.accumulation : (step + 1) * options.accumulation]:
            loss = _loss(model, usable[index], target) / options.accumulation
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            losses.append(float(loss.detach()) * options.accumulation)
        optimizer.step()
        schedule.step()
        report.losses.append(sum(losses) / len(losses))
        if progress is not None:
            progress(step + 1, total, report.losses[-1])
        if (step + 1) % options.checkpoint_every == 0 and step + 1 < total:
            _checkpoint(out, step + 1, model, optimizer, schedule, report)
    model.eval()
    if held:
        report.eval_loss_after = _mean_loss(model, held, target)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    (out / "training.json").write_text(json.dumps({**asdict(report),
                                                   "options": asdict(options)}, indent=1))
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return report


def _order(count: int, length: int, seed: int) -> list[int]:
    """Example indices for the whole run: shuffled epochs, deterministic for a seed."""
    rng = random.Random(seed)
    order: list[int] = []
    while len(order) < length:
        epoch = list(range(count))
        rng.shuffle(epoch)
        order += epoch
    return order[:length]


def _loss(model: Any, example: Encoded, device: str) -> torch.Tensor:
    ids = torch.tensor([example.ids], device=device)
    labels = torch.tensor([example.labels], device=device)
    loss: torch.Tensor = model(input_ids=ids, labels=labels, use_cache=False).loss
    return loss


@torch.no_grad()
def _mean_loss(model: Any, examples: Sequence[Encoded], device: str) -> float:
    was_training = model.training
    model.eval()
    value = sum(float(_loss(model, e, device)) for e in examples) / len(examples)
    model.train(was_training)
    return value


def _checkpoint(out: Path, step: int, model: Any, optimizer: Any, schedule: Any,
                report: TrainingReport) -> None:
    folder = out / "checkpoints" / f"step-{step}"
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(str(staging))
    torch.save({"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "losses": report.losses, "eval_loss_before": report.eval_loss_before},
               staging / "state.pt")
    staging.rename(folder)  # a checkpoint is complete or absent, never half-written


def _resume(out: Path, model: Any, optimizer: Any, schedule: Any,
            report: TrainingReport, options: LoraOptions) -> int:
    """Load the newest checkpoint in `out`; return the step it reached (0 without one).

    Raise `ModelError` when it was trained with another rank, alpha or target modules.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folders = sorted((out / "checkpoints").glob("step-*[0-9]"),
                     key=lambda p: int(p.name.split("-")[1])) if out.is_dir() else []
    if not folders:
        return 0
    newest = folders[-1]
    _check_same_shape(newest, options)
    set_peft_model_state_dict(model, load_file(str(newest / "adapter_model.safetensors")))
    state = torch.load(newest / "state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    report.losses = list(state["losses"])
    report.eval_loss_before = state["eval_loss_before"]
    report.resumed_from = int(newest.name.split("-")[1])
    logger.info("resuming from %s", newest)
    return report.resumed_from


def _check_same_shape(checkpoint: Path, options: LoraOptions) -> None:
    """Raise `ModelError` naming what differs between a checkpoint's adapter and `options`."""
    saved = json.loads((checkpoint / "adapter_config.json").read_text(encoding="utf-8"))
    differences = [
        f"{name} {saved_value} (asked: {asked})"
        for name, saved_value, asked in (
            ("rank", saved.get("r"), options.rank),
            ("alpha", saved.get("lora_alpha"), options.alpha),
            ("targets", ",".join(sorted(saved.get("target_modules") or ())),
             ",".join(sorted(options.targets))),
        )
        if saved_value != asked
    ]
    if differences:
        raise ModelError(
            f"{checkpoint} was trained with {', '.join(differences)}: run again with its "
            f"settings to resume, or remove {checkpoint.parent} to start over"
        )
