r"""LoRA on a repository: FIM on its held-out files with and without the trained adapter.

Usage: ``.venv/bin/python -m bench.lora [--repos self,rich] [--steps 16] [--cases 24]``.

For each repository (``self``: this project's own source; any other name: an installed
package's source folder, e.g. ``rich`` from PyPI, a pure-Python library):

1. `codegen.jobs.train_data.build` makes the dataset exactly as ``vetted train data`` does
   (whole files held out by a hash of their path, ``--eval-share``);
2. `codegen.jobs.train_lora.train` trains an adapter on the train split exactly as ``vetted
   train lora`` does, with a small budget (``--steps`` optimizer steps of
   ``--accumulation`` examples; defaults r=16, alpha=32, attention projections);
3. the first ``--cases`` held-out holes of each kind, single-line (a statement line or a
   span in the middle of a line) and multi-line (a block of 2-8 lines), are completed
   through the product's `Pipeline` (syntax validator, greedy, one alternative), the same
   requests once without and once with the adapter, on the same loaded base model (the
   adapter is served per request, as the editor gets it).

Scored per request, over all cases of the kind (nothing shown counts as a miss):

* exact: the shown suggestion, spliced in, gives the file's original non-blank lines
  (right-stripped); raw exact: the same for the model's text inserted unchanged;
* parses: the file with the shown suggestion spliced in parses (``ast``);
* shown: a suggestion was shown at all.

Held-out repository files have no tests of their own to run, so there is no pass rate here;
HumanEval's hidden tests are in `vetted eval`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fim import RecordingBackend
from bench.fim import normalize as normalized
from bench.fim_cases import parses
from codegen.jobs.train_data import Example, build, write
from codegen.jobs.train_lora import LoraOptions, train
from codegen.pipeline import Pipeline
from codegen.runtime.backends import load_backend
from codegen.runtime.model import parse_spec
from codegen.types import CompletionRequest, ContextFile

REPO_ROOT = Path(__file__).resolve().parents[1]
SINGLE = ("statement", "span")
MULTI = ("block",)


@dataclass
class Outcome:
    """One held-out hole completed once without and once with the adapter."""

    repo: str
    path: str
    kind: str
    middle: str
    base: dict[str, bool]
    adapted: dict[str, bool]
    base_text: str | None
    adapted_text: str | None


def source_of(name: str) -> Path:
    """The folder of a repository to learn: this project, or an installed package."""
    if name == "self":
        return REPO_ROOT
    module = importlib.import_module(name)
    if module.__file__ is None:
        raise SystemExit(f"{name} is not a package with source files")
    return Path(module.__file__).parent


def complete(pipeline: Pipeline, recorder: RecordingBackend, example: Example, adapter: str,
             tokens: int) -> tuple[dict[str, bool], str | None]:
    text, offset = example.prefix + example.suffix, len(example.prefix)
    truth = normalized(example.prefix + example.middle + example.suffix)
    request = CompletionRequest(
        text=text, offset=offset, path=example.path, n=1, max_new_tokens=tokens,
        trigger="invoked", context_files=tuple(ContextFile(p, t) for p, t in example.context),
        adapter=adapter,
    )
    recorder.last = []
    result = pipeline.complete(request)
    raw = recorder.last[0].text if recorder.last else ""
    item = result.items[0] if result.items else None
    program = None if item is None else text[:offset] + item.insert + text[item.end:]
    scores = {
        "shown": program is not None,
        "exact": program is not None and normalized(program) == truth,
        "parses": program is not None and parses(program),
        "raw_exact": bool(raw.strip()) and normalized(text[:offset] + raw + text[offset:]) == truth,
    }
    return scores, None if item is None else item.insert


def pick(examples: Sequence[Example], kinds: Sequence[str], count: int) -> list[Example]:
    """The first `count` held-out examples of these kinds, one file after another."""
    held = [e for e in examples if e.split == "eval" and e.kind in kinds and e.middle.strip()]
    by_file: dict[str, list[Example]] = {}
    for example in held:
        by_file.setdefault(example.path, []).append(example)
    picked: list[Example] = []
    while len(picked) < count and any(by_file.values()):
        for path in list(by_file):
            if by_file[path] and len(picked) < count:
                picked.append(by_file[path].pop(0))
    return picked


def share(outcomes: Sequence[Outcome], side: str, key: str) -> str:
    if not outcomes:
        return "-"
    hits = sum(getattr(o, side)[key] for o in outcomes)
    return f"{100 * hits / len(outcomes):.1f} ({hits}/{len(outcomes)})"


def table(outcomes: Sequence[Outcome]) -> str:
    rows = ["| repository | FIM | cases | adapter | exact % | raw exact % | parses % | shown % |",
            "|---|---|---:|---|---:|---:|---:|---:|"]
    for repo in dict.fromkeys(o.repo for o in outcomes):
        for label, kinds in (("single-line", SINGLE), ("multi-line", MULTI)):
            these = [o for o in outcomes if o.repo == repo and o.kind in kinds]
            for side, name in (("base", "without"), ("adapted", "with")):
                rows.append(f"| {repo} | {label} | {len(these)} | {name} | "
                            f"{share(these, side, 'exact')} | {share(these, side, 'raw_exact')} "
                            f"| {share(these, side, 'parses')} | {share(these, side, 'shown')} |")
    return "\n".join(rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--repos", default="self,rich", help="comma-separated: self, packages")
    parser.add_argument("--model", default="pypi:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=16, help="optimizer steps of training")
    parser.add_argument("--accumulation", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--max-tokens", type=int, default=640, help="longest training example")
    parser.add_argument("--eval-share", type=float, default=0.15)
    parser.add_argument("--cases", type=int, default=24, help="held-out holes per kind")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out" / "lora")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = LoraOptions(max_steps=args.steps, accumulation=args.accumulation,
                          learning_rate=args.lr, max_tokens=args.max_tokens,
                          checkpoint_every=max(args.steps // 2, 1))
    outcomes: list[Outcome] = []
    trainings: dict[str, dict[str, object]] = {}
    backend = None
    for repo in [r.strip() for r in args.repos.split(",") if r.strip()]:
        folder = args.out / repo
        examples, summary = build(source_of(repo), eval_share=args.eval_share)
        write(examples, summary, folder / "data.jsonl")
        print(f"{repo}: {summary.train_files} train files, {summary.eval_files} held out, "
              f"{len(examples)} examples", file=sys.stderr, flush=True)
        started = time.perf_counter()

        def progress(step: int, total: int, loss: float, repo: str = repo) -> None:
            print(f"{repo}: step {step}/{total} loss {loss:.3f}", file=sys.stderr, flush=True)

        report = train(folder / "data.jsonl", folder / "adapter", args.model, options,
                       device=args.device, progress=progress)
        trainings[repo] = {"seconds": round(time.perf_counter() - started),
                           "train_files": summary.train_files, "eval_files": summary.eval_files,
                           "examples_trained": report.steps * args.accumulation,
                           "first_loss": report.losses[0], "last_loss": report.losses[-1],
                           "eval_loss_before": report.eval_loss_before,
                           "eval_loss_after": report.eval_loss_after}
        if backend is None:
            backend = load_backend(parse_spec(args.model), device=args.device)
        recorder = RecordingBackend(backend)
        pipeline = Pipeline(recorder)
        adapter = str(folder / "adapter")
        cases = [(e, 48) for e in pick(examples, SINGLE, args.cases)]
        cases += [(e, 160) for e in pick(examples, MULTI, args.cases)]
        for number, (example, tokens) in enumerate(cases, 1):
            base, base_text = complete(pipeline, recorder, example, "", tokens)
            adapted, adapted_text = complete(pipeline, recorder, example, adapter, tokens)
            outcomes.append(Outcome(repo, example.path, example.kind, example.middle, base,
                                    adapted, base_text, adapted_text))
            print(f"{repo} [{number}/{len(cases)}] {example.path} {example.kind}: "
                  f"exact {base['exact']} -> {adapted['exact']}", file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "outcomes.jsonl").open("w", encoding="utf-8") as handle:
        for outcome in outcomes:
            handle.write(json.dumps(asdict(outcome)) + "\n")
    print(f"LoRA adapters, {args.model} on {args.device}; {args.steps} steps x "
          f"{args.accumulation} examples, lr {args.lr}, r=16 alpha=32 on q/k/v/o\n")
    print(table(outcomes))
    print("\ntraining:")
    for repo, facts in trainings.items():
        print(f"  {repo}: {json.dumps(facts)}")
    if outcomes:
        changed = statistics.mean(o.base_text != o.adapted_text for o in outcomes)
        print(f"\nsuggestion changed by the adapter: {100 * changed:.1f} % of cases")
    print(f"per-case records: {args.out / 'outcomes.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
