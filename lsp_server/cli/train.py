"""`vetted train data REPO -o DATASET` and `vetted train lora DATASET -o ADAPTER`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from codegen.jobs import train_data
from codegen.jobs.train_lora import LoraOptions, train
from codegen.runtime.model import ModelError, resolve_default_spec


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `train data` and `train lora` subcommands' arguments."""
    trainer = sub.add_parser("train", help="learn a project's style: a LoRA adapter")
    steps = trainer.add_subparsers(dest="train_command", required=True)
    data = steps.add_parser("data", help="FIM examples from a repository")
    data.add_argument("repo", type=Path)
    data.add_argument("-o", "--output", type=Path, required=True, help="dataset (JSONL)")
    data.add_argument("--per-file", type=int, default=8, help="holes per file")
    data.add_argument("--eval-share", type=float, default=0.1, help="share of files held out")
    data.add_argument("--completions", type=Path, default=None,
                      help="a server completion log (training.logCompletions) to add")
    data.add_argument("--seed", type=int, default=0)
    lora = steps.add_parser("lora", help="train an adapter on a dataset")
    lora.add_argument("dataset", type=Path)
    lora.add_argument("-o", "--output", type=Path, required=True, help="adapter folder")
    lora.add_argument("--model", default="", help="base model spec (default: the default)")
    lora.add_argument("--device", default="auto")
    lora.add_argument("--dtype", default="auto", help="base model precision (auto: bf16 where "
                      "the hardware has it)")
    defaults = LoraOptions()
    lora.add_argument("--rank", type=int, default=defaults.rank)
    lora.add_argument("--alpha", type=int, default=defaults.alpha)
    lora.add_argument("--dropout", type=float, default=defaults.dropout)
    lora.add_argument("--targets", default=",".join(defaults.targets),
                      help="comma-separated module names")
    lora.add_argument("--lr", type=float, default=defaults.learning_rate)
    lora.add_argument("--epochs", type=float, default=defaults.epochs)
    lora.add_argument("--max-steps", type=int, default=0)
    lora.add_argument("--accumulation", type=int, default=defaults.accumulation)
    lora.add_argument("--max-tokens", type=int, default=defaults.max_tokens)
    lora.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    lora.add_argument("--no-gradient-checkpointing", action="store_true")
    lora.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Build a dataset or train an adapter."""
    if args.train_command == "data":
        if not args.repo.is_dir():
            print(f"vetted: {args.repo} is not a folder", file=sys.stderr)
            return 2
        examples, summary = train_data.build(args.repo, per_file=args.per_file,
                                             eval_share=args.eval_share, seed=args.seed,
                                             completions=args.completions)
        train_data.write(examples, summary, args.output)
        counts = {k: v for k, v in asdict(summary).items() if k != "skipped"}
        print(json.dumps({**counts, "skipped": len(summary.skipped)}))
        return 0
    options = LoraOptions(
        rank=args.rank, alpha=args.alpha, dropout=args.dropout,
        targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
        learning_rate=args.lr, epochs=args.epochs, max_steps=args.max_steps,
        accumulation=args.accumulation, max_tokens=args.max_tokens,
        checkpoint_every=args.checkpoint_every,
        gradient_checkpointing=not args.no_gradient_checkpointing,
    )
    spec = args.model or str(resolve_default_spec())
    columns = (TextColumn("vetted train lora"), BarColumn(), TextColumn("{task.completed}/"
               "{task.total}"), TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn())
    try:
        with Progress(*columns, disable=args.quiet) as bar:
            task = bar.add_task("train", total=None, loss="-")

            def progress(step: int, total: int, loss: float) -> None:
                bar.update(task, completed=step, total=total, loss=f"{loss:.4f}")

            report = train(args.dataset, args.output, spec, options, device=args.device,
                           dtype=args.dtype,
                           progress=progress)
    except (ModelError, OSError, ValueError) as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"adapter": str(args.output), "steps": report.steps,
                      "first_loss": report.losses[0] if report.losses else None,
                      "last_loss": report.losses[-1] if report.losses else None,
                      "eval_loss_before": report.eval_loss_before,
                      "eval_loss_after": report.eval_loss_after,
                      "resumed_from": report.resumed_from}))
    return 0
