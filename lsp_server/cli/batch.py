"""`vetted batch INPUT -o OUTPUT` and `vetted eval SUITE`, over `codegen.jobs.batch`/`evaluate`.

Both load the model once, build the same pipeline as the server (prompt template,
post-processing, every validator, ranking) and run the requests concurrently so the engine
batches them. A rich progress bar shows done/total, tokens/s and the time left (`--quiet`
for scripts); Ctrl-C stops cleanly, keeping every record written.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from codegen.jobs import batch, evaluate
from codegen.pipeline import Pipeline
from codegen.runtime.backends import Backend, RuntimeOptions, load_backend
from codegen.runtime.model import parse_spec, resolve_default_spec
from codegen.runtime.placement import QUANTIZE_MODES
from prompts.templates import FimTemplate
from validators import close_validators, create_validators
from validators.sandbox import Sandbox, SandboxLimits


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `batch` and `eval` subcommands' arguments."""
    run = sub.add_parser("batch", help="complete JSONL requests (resumable)")
    run.add_argument("input", type=Path, help="one request per line ('-' reads stdin)")
    run.add_argument("-o", "--output", type=Path, required=True)
    _common(run)

    suite = sub.add_parser("eval", help="score a benchmark suite with its hidden tests")
    suite.add_argument("suite", choices=sorted(evaluate.SUITES))
    suite.add_argument("--data", type=Path, required=True,
                       help="folder with the suites' public files as published: humaneval/ "
                            "(HumanEval and its infilling variants), mbpp/ (sanitized MBPP)")
    suite.add_argument("--subset", type=int, default=None, help="a seeded sample of N tasks")
    suite.add_argument("--limit", type=int, default=None, help="only the first K tasks")
    suite.add_argument("--out", type=Path, default=None,
                       help="folder for requests, results and report (default eval-out/SUITE)")
    _common(suite)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="", help="model spec; default: the built-in default")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--quantize", default="auto", choices=QUANTIZE_MODES,
                        help="decoding weights: auto (int4 on a CPU), int4, int8, off")
    parser.add_argument("--n", type=int, default=1, help="candidates per request (default)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=0,
                        help="requests at once (default: the engine's slots / n)")
    parser.add_argument("--no-validators", action="store_true",
                        help="post-process only: no syntax, mypy or test checks")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_batch_command(args: argparse.Namespace) -> int:
    """`vetted batch`: run the input's requests into the output file."""
    try:
        lines = batch.read_lines(args.input)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"vetted: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    return _run(args, lines, args.output)


def run_eval_command(args: argparse.Namespace) -> int:
    """`vetted eval`: build the suite's requests, run them through batch, score them."""
    try:
        tasks, layout = evaluate.load_suite(args.data, args.suite)
    except evaluate.SuiteError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    tasks = evaluate.pick(tasks, args.subset, args.limit)
    out = args.out or Path("eval-out") / args.suite
    out.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(evaluate.batch_record(t, layout, args.n, args.max_new_tokens))
             for t in tasks]
    (out / "requests.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    status = _run(args, lines, out / "results.jsonl")
    if status != 0:
        return status
    records = {}
    for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        records[str(record.get("id"))] = record
    with Sandbox(SandboxLimits(wall_seconds=900.0)) as sandbox:
        try:
            scores = evaluate.score(sandbox, tasks, layout, records)
        except evaluate.SuiteError as exc:
            print(f"vetted: {exc}", file=sys.stderr)
            return 2
    result = evaluate.report(args.suite, scores, args.n)
    (out / "report.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    summary = {k: v for k, v in result.items() if k != "per_task"}
    print(json.dumps(summary))
    if not args.quiet:
        print(f"report: {out / 'report.json'}", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace, lines: list[str], output: Path) -> int:
    spec = parse_spec(args.model) if args.model else resolve_default_spec()
    backend = load_backend(spec, device=args.device, dtype=args.dtype,
                           progress=None if args.quiet else _say,
                           runtime=RuntimeOptions(quantize=args.quantize))
    validators = () if args.no_validators else create_validators(patient=True)
    pipeline = Pipeline(backend, FimTemplate(), validators=validators)
    defaults = {"n": args.n, "max_new_tokens": args.max_new_tokens,
                "temperature": args.temperature}
    skip = batch.done_keys(output)
    stop = threading.Event()
    counts = batch.Progress()
    try:
        with output.open("a", encoding="utf-8") as handle:
            worker = threading.Thread(
                target=batch.run_batch,
                args=(pipeline, lines, handle),
                kwargs={"skip": skip, "defaults": defaults, "workers": _workers(args, backend),
                        "stop": stop, "progress": counts},
                daemon=True,
            )
            worker.start()
            _show(worker, counts, args.quiet)
    except KeyboardInterrupt:
        stop.set()
        worker.join(timeout=60)
        print(f"\nvetted: stopped; {counts.done} records written to {output}, rerun to go on",
              file=sys.stderr)
        return 130
    finally:
        close_validators(validators)
        backend.close()
    if counts.total and not args.quiet:
        print(f"vetted: {counts.done} records ({counts.errors} errors, {counts.skipped} done "
              f"before) in {output}", file=sys.stderr)
    return 0


def _workers(args: argparse.Namespace, backend: Backend) -> int:
    if args.workers:
        return int(args.workers)
    engine = backend.engine
    slots = int(engine.cache.slots) if engine is not None else 4
    n: int = args.n
    return max(1, slots // max(n, 1))


def _show(worker: threading.Thread, counts: batch.Progress, quiet: bool) -> None:
    """Wait for the worker, drawing the progress bar unless `quiet`."""
    if quiet or not counts.total and not worker.is_alive():
        while worker.is_alive():
            worker.join(timeout=0.5)
        return
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[rate]} tokens/s"), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("vetted batch", total=None, rate="0")
        while worker.is_alive():
            worker.join(timeout=0.5)
            elapsed = max(time.perf_counter() - started, 1e-6)
            bar.update(task, total=counts.total or None, completed=counts.done,
                       rate=f"{counts.tokens / elapsed:.0f}")


def _say(message: str) -> None:
    print(f"vetted: {message}", file=sys.stderr, flush=True)
